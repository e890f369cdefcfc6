"""The champions compatibility API: its URLs (filled in by its own issue work)."""

urlpatterns: list = []

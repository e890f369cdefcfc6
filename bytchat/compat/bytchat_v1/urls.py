"""The bytchat_v1 compatibility API: its URLs (filled in by its own issue work)."""

urlpatterns: list = []

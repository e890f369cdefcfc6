"""The web panel at /app/: its URLs."""

urlpatterns: list = []

"""The Champions API mounted at `api/`, as a deployment with COMPAT_CHAMPIONS_PREFIX="api/"
does for an existing front end, next to the native API."""

from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("chat.api.urls")),
    path("api/", include("bytchat.compat.champions.urls")),
]

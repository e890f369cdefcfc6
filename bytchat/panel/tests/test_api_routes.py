"""The panel's JSON API is the native API's routes, derived in one place (panel/api.py)."""

from __future__ import annotations

import uuid

from django.urls import reverse
from rest_framework.authentication import SessionAuthentication

from bots.api import urls as bot_urls
from bytchat.panel import api
from chat.api import urls as chat_urls

NATIVE = {pattern.name: pattern for pattern in [*bot_urls.urlpatterns, *chat_urls.urlpatterns]}
PANEL = {pattern.name: pattern for pattern in api.urlpatterns}


def test_each_panel_route_is_the_native_view_with_the_session_instead_of_a_token():
    for native_name in api.NATIVE_ROUTES:
        native, panel = NATIVE[native_name], PANEL[api.panel_name(native_name)]
        assert panel.callback.cls is native.callback.cls, native_name
        assert panel.callback.initkwargs["authentication_classes"] == [SessionAuthentication]
        ids = {name: uuid.uuid4() for name in native.pattern.converters}
        native_url = reverse(native_name, kwargs=ids)
        assert reverse(f"panel:{api.panel_name(native_name)}", kwargs=ids) == native_url.replace(
            "/api/v1/", "/app/api/", 1
        )


def test_panel_names_follow_the_native_ones():
    assert api.panel_name("bot-detail") == "api-bot"
    assert api.panel_name("bot-model-list") == "api-bot-models"
    assert api.panel_name("conversation-archive") == "api-conversation-archive"

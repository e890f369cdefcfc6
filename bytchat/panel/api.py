"""The JSON endpoints the panel's JavaScript calls, under /app/api/.

They are the native API's own views with the browser session instead of a Bearer token:
same selectors, services, serializers and error envelope. DRF's SessionAuthentication
refuses an unsafe request without a valid CSRF token. The streaming chat view is a plain
async view, so Django's CSRF middleware guards it.
"""

from __future__ import annotations

import functools

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, path
from django.views.decorators.http import require_POST
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication

from bots.api import urls as bot_urls
from bytchat.api.async_views import api_errors, parse_json_after
from bytchat.db import db_step
from chat.api import serializers as chat_serializers
from chat.api import urls as chat_urls
from chat.api import views as chat_views
from chat.models import Channel

# The native routes the panel's JavaScript calls, by their native URL names.
NATIVE_ROUTES = (
    "bot-detail",
    "bot-model-list",
    "bot-model-detail",
    "bot-document-list",
    "bot-document-detail",
    "bot-document-reindex",
    "conversation-list",
    "conversation-detail",
    "conversation-archive",
    "conversation-messages",
    "conversation-export",
    "message-feedback",
    "message-versions",
    "suggestions",
    "chat-stop",
)


def panel_name(native_name: str) -> str:
    """The panel's name of a native route: `bot-model-list` is `api-bot-models`,
    `bot-model-detail` is `api-bot-model`."""
    if native_name.endswith("-list"):
        return f"api-{native_name.removesuffix('-list')}s"
    return f"api-{native_name.removesuffix('-detail')}"


def session_variants(native_patterns: list[URLPattern]) -> list[URLPattern]:
    """Each native route of NATIVE_ROUTES again under `api/`, served by the same view class
    with session authentication instead of a Bearer token (DRF's SessionAuthentication also
    refuses an unsafe request without a valid CSRF token)."""
    by_name = {pattern.name: pattern for pattern in native_patterns if pattern.name}
    variants = []
    for name in NATIVE_ROUTES:
        native = by_name[name]
        view = native.callback.cls.as_view(
            **native.callback.initkwargs, authentication_classes=[SessionAuthentication]
        )
        variants.append(path(f"api/{native.pattern}", view, name=panel_name(name)))
    return variants


@require_POST
@api_errors
async def chat_stream(request: HttpRequest) -> HttpResponse:
    """POST a question, read the answer as server-sent events (the native event protocol)."""
    data = await parse_json_after(
        functools.partial(sync_to_async(db_step(_session_user)), request),
        request,
        chat_serializers.ChatRequestSerializer,
    )
    return await chat_views.chat_answer(
        data, functools.partial(_session_user, request), channel=Channel.PANEL
    )


@require_POST
@api_errors
async def regenerate_stream(request: HttpRequest, message_id) -> HttpResponse:
    """Answer a question again (`message_id`: its answer), as server-sent events."""
    data = await parse_json_after(
        functools.partial(sync_to_async(db_step(_session_user)), request),
        request,
        chat_serializers.RegenerateRequestSerializer,
    )
    return await chat_views.regenerate_answer(
        message_id, data, functools.partial(_session_user, request), channel=Channel.PANEL
    )


@require_POST
@api_errors
async def edit_stream(request: HttpRequest, message_id) -> HttpResponse:
    """Replace question `message_id` and read its answer as server-sent events."""
    data = await parse_json_after(
        functools.partial(sync_to_async(db_step(_session_user)), request),
        request,
        chat_serializers.EditRequestSerializer,
    )
    return await chat_views.edit_answer(
        message_id, data, functools.partial(_session_user, request), channel=Channel.PANEL
    )


async def chat_events(request: HttpRequest, message_id) -> HttpResponse:
    """Resume an answer's event stream (the native `chat/{message_id}/events`)."""
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    user = await sync_to_async(db_step(_session_user))(request)
    return await chat_views.answer_events_response(request, message_id, user)


def _session_user(request: HttpRequest):
    if not request.user.is_authenticated:
        raise exceptions.NotAuthenticated()
    return request.user


# Under /app/ (panel/urls.py): the session variants, then the streaming chat views.
urlpatterns = [
    *session_variants([*bot_urls.urlpatterns, *chat_urls.urlpatterns]),
    path("api/chat", chat_stream, name="api-chat"),
    path("api/chat/<uuid:message_id>/regenerate", regenerate_stream, name="api-chat-regenerate"),
    path("api/chat/<uuid:message_id>/edit", edit_stream, name="api-chat-edit"),
    path("api/chat/<uuid:message_id>/events", api_errors(chat_events), name="api-chat-events"),
]

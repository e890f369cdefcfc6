"""The JSON endpoints the panel's JavaScript calls, under /app/api/.

They are the native API's own views with the browser session instead of a Bearer token:
same selectors, services, serializers and error envelope. DRF's SessionAuthentication
refuses an unsafe request without a valid CSRF token. The streaming chat view is a plain
async view, so Django's CSRF middleware guards it.
"""

from __future__ import annotations

import functools

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication

from bots.api import views as bot_views
from bytchat.api.async_views import api_errors, parse_json_after
from bytchat.db import db_step
from chat.api import serializers as chat_serializers
from chat.api import views as chat_views

SESSION = [SessionAuthentication]


class SessionAuthenticated:
    """Session authentication for a native API view."""

    authentication_classes = SESSION


class BotDetailView(SessionAuthenticated, bot_views.BotDetailView):
    pass


class ModelConfigListCreateView(SessionAuthenticated, bot_views.ModelConfigListCreateView):
    pass


class ModelConfigDetailView(SessionAuthenticated, bot_views.ModelConfigDetailView):
    pass


class DocumentListCreateView(SessionAuthenticated, bot_views.DocumentListCreateView):
    pass


class DocumentDetailView(SessionAuthenticated, bot_views.DocumentDetailView):
    pass


class DocumentReindexView(SessionAuthenticated, bot_views.DocumentReindexView):
    pass


class ConversationListCreateView(SessionAuthenticated, chat_views.ConversationListCreateView):
    pass


class ConversationDetailView(SessionAuthenticated, chat_views.ConversationDetailView):
    pass


class ConversationArchiveView(SessionAuthenticated, chat_views.ConversationArchiveView):
    pass


class MessageListView(SessionAuthenticated, chat_views.MessageListView):
    pass


class FeedbackView(SessionAuthenticated, chat_views.FeedbackView):
    pass


class SuggestionListView(SessionAuthenticated, chat_views.SuggestionListView):
    pass


@require_POST
@api_errors
async def chat_stream(request: HttpRequest) -> HttpResponse:
    """POST a question, read the answer as server-sent events (the native event protocol)."""
    data = await parse_json_after(
        functools.partial(sync_to_async(db_step(_session_user)), request),
        request,
        chat_serializers.ChatRequestSerializer,
    )
    return await chat_views.chat_answer(data, functools.partial(_session_user, request))


def _session_user(request: HttpRequest):
    if not request.user.is_authenticated:
        raise exceptions.NotAuthenticated()
    return request.user

"""The ESCOMBOT API: thin views over the accounts and chat services.

Every chat of this API is a Bytchat conversation with the ESCOMBOT bot (`bot.py`); a chat
of another bot, or of another user, is "Chat no encontrado".
"""

from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.services import user_authenticate
from bytchat.api.async_views import parse_json
from bytchat.api.client import client_ip
from bytchat.api.errors import errors_rendered_by
from bytchat.compat.escombot import serializers as s
from bytchat.compat.escombot.auth import (
    SessionCookieAuthentication,
    authenticated_user,
    json_body_required,
    session_cookie_set,
)
from bytchat.compat.escombot.bot import escombot_bot
from bytchat.compat.escombot.errors import (
    ChatIdAndMessageRequired,
    ChatNotFound,
    CredentialsRequired,
    EscombotUnavailable,
    TitleRequired,
    error_response,
    exception_handler,
)
from bytchat.compat.escombot.throttles import ChatCreateThrottle, LoginThrottle, MessageThrottle
from bytchat.db import db_step
from bytchat.errors import NotFound
from chat import selectors
from chat.models import Channel, Conversation
from chat.services import conversations, engine

# ESCOMBOT clients can neither delete nor archive: at the plan's limit the oldest active
# chat is archived (kept, readable in the other APIs), never deleted.
AT_LIMIT = conversations.AtLimit.ARCHIVE_OLDEST


def chat_get(*, user: User, chat_id: Any) -> Conversation:
    """The user's chat with ESCOMBOT, or ChatNotFound (another user's, another bot's, no id)."""
    try:
        uuid.UUID(str(chat_id))
    except ValueError as exc:
        raise ChatNotFound() from exc
    try:
        chat = selectors.conversation_get(user=user, conversation_id=chat_id)
    except NotFound as exc:
        raise ChatNotFound() from exc
    bot = escombot_bot(user=user)
    if bot is None or chat.bot_id != bot.pk:
        raise ChatNotFound()
    return chat


@extend_schema(exclude=True)
class EscombotView(APIView):
    """Cookie session, JSON only for unsafe methods, the document's limits and errors."""

    authentication_classes = [SessionCookieAuthentication]
    permission_classes = [IsAuthenticated]
    escombot_throttles: list[type] = []

    def initial(self, request, *args, **kwargs) -> None:
        json_body_required(request._request)
        super().initial(request, *args, **kwargs)

    def get_throttles(self) -> list:
        return [*super().get_throttles(), *(throttle() for throttle in self.escombot_throttles)]

    def get_exception_handler(self):
        return exception_handler


@extend_schema(exclude=True)
class LoginView(EscombotView):
    authentication_classes = []
    permission_classes = [AllowAny]
    escombot_throttles = [LoginThrottle]

    def post(self, request):
        serializer = s.LoginRequestSerializer(data=request.data)
        if not serializer.is_valid():
            raise CredentialsRequired()
        user = user_authenticate(**serializer.validated_data, ip=client_ip(request))
        response = Response({"user": s.UserSerializer(user).data})
        session_cookie_set(response, request=request, user=user)
        return response


@extend_schema(exclude=True)
class ChatListCreateView(EscombotView):
    escombot_throttles = [ChatCreateThrottle]

    def get(self, request):
        bot = escombot_bot(user=request.user)
        chats = (
            []
            if bot is None
            else selectors.conversation_list(user=request.user, bot_id=bot.pk, archived=False)
        )
        return Response({"chats": s.ChatSerializer(chats, many=True).data})

    def post(self, request):
        serializer = s.ChatCreateRequestSerializer(data=request.data)
        if not serializer.is_valid():
            raise TitleRequired()
        bot = escombot_bot(user=request.user)
        if bot is None:
            raise EscombotUnavailable()
        chat = conversations.conversation_create(
            user=request.user, bot=bot, title=serializer.validated_data["title"], at_limit=AT_LIMIT
        )
        return Response({"chat": s.ChatSerializer(chat).data}, status=status.HTTP_201_CREATED)


@extend_schema(exclude=True)
class ChatMessageListView(EscombotView):
    def get(self, request, chat_id: str):
        chat = chat_get(user=request.user, chat_id=chat_id)
        messages = selectors.message_list(conversation=chat)
        return Response({"messages": s.MessageSerializer(messages, many=True).data})


# --- POST /messages: a plain async view, so a long answer holds no thread ---------------
@db_step
def _message_prepare(request: HttpRequest) -> engine.Turn:
    json_body_required(request)
    user = authenticated_user(request)
    MessageThrottle().count(str(user.pk))
    try:
        data = parse_json(request, s.MessageCreateRequestSerializer)
    except exceptions.ValidationError as exc:
        raise ChatIdAndMessageRequired() from exc
    chat = chat_get(user=user, chat_id=data["chatId"])
    return engine.chat_prepare(
        user=user,
        bot_id=chat.bot_id,
        message=data["message"],
        conversation_id=chat.pk,
        at_limit=AT_LIMIT,
        channel=Channel.ESCOMBOT,
    )


def _message_result_body(result: engine.ChatResult) -> dict[str, Any]:
    return {
        "userMessage": s.SentMessageSerializer(result.user_message).data,
        "botMessage": s.SentMessageSerializer(result.assistant_message).data,
    }


message_prepare = sync_to_async(_message_prepare)
message_result_body = sync_to_async(db_step(_message_result_body))


@csrf_exempt  # unsafe requests must be application/json instead (auth.json_body_required)
@errors_rendered_by(error_response)
async def message_create_view(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        raise exceptions.MethodNotAllowed(request.method)
    turn = await message_prepare(request)
    result = await engine.chat_complete_async(turn)
    return JsonResponse(await message_result_body(result), status=status.HTTP_201_CREATED)

"""Bytchat v1 (bytchat-api-v1.2.1.md, bytchat-platform-v1.4.0.md) over the native services.

Every view parses, calls one service or selector, and answers in v1's shapes: 200 for every
success (FastAPI's default, the only status the documents show) and `{"detail": "..."}`
for every error. `GET /` is the platform's welcome view (bytchat/views.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import services as account_services
from accounts.models import User
from bots import selectors as bot_selectors
from bots import services as bot_services
from bots.api.serializers import (
    BotSerializer,
    DocumentSerializer,
    DocumentUploadSerializer,
    ModelConfigSerializer,
)
from bots.api.uploads import UploadSizeLimit
from bots.models import Bot
from bytchat.api.async_views import authenticate, parse_json
from bytchat.api.client import client_ip
from bytchat.api.permissions import RegistrationAllowed
from bytchat.compat.bytchat_v1 import serializers as s
from bytchat.compat.bytchat_v1.errors import exception_handler, v1_errors
from bytchat.db import db_step
from bytchat.errors import InvalidInput
from chat.errors import ChatFailed
from chat.models import Channel
from chat.services import answers, conversations, engine


class V1View(GenericAPIView):
    """Base of the v1 DRF views: v1's error body, and out of the native OpenAPI schema."""

    schema = None
    pagination_class = None

    def get_exception_handler(self):
        return exception_handler


def bot_body(bot: Bot, user: User) -> dict[str, Any]:
    # v1 bots have one name: the one in the bot's language, which `name` writes to.
    context = {"language": bot.language, "user": user, "staff": user.is_manager_or_admin}
    return BotSerializer(bot, context=context).data


def user_body(user: User) -> dict[str, Any]:
    bots = bot_selectors.bot_list_owned(user=user)
    return {
        "email": user.email,
        "id": str(user.pk),
        "is_active": user.is_active,
        "bots": [bot_body(bot, user) for bot in bots],
    }


# --- Authentication and users ------------------------------------------------------------
class TokenView(V1View):
    """`POST /token`: OAuth2's password form. The failed-login throttle, the email-domain
    policy and the one message for an unknown email or a wrong password are the login
    service's."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, MultiPartParser]
    serializer_class = s.TokenRequestSerializer

    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        _user, tokens = account_services.auth_login(
            email=data["username"], password=data["password"], ip=client_ip(request)
        )
        return Response(s.TokenSerializer({"access_token": tokens.access, "token_type": "bearer"}).data)


class UserCreateView(V1View):
    """`POST /users/`: sign up, while REGISTRATION_OPEN is on (afterwards, admins only)."""

    permission_classes = [RegistrationAllowed]
    serializer_class = s.UserCreateSerializer

    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = account_services.user_create(**serializer.validated_data)
        return Response(user_body(user))


# --- Bots --------------------------------------------------------------------------------
class BotListCreateView(V1View):
    serializer_class = s.BotCreateSerializer

    def get(self, request):
        bots = bot_selectors.bot_list_owned(user=request.user)
        return Response([bot_body(bot, request.user) for bot in bots])

    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bot = bot_services.bot_create(user=request.user, **serializer.validated_data)
        return Response(bot_body(bot, request.user))


class BotDetailView(V1View):
    """`PUT /bots/{bot_id}`: v1's bodies carry only the fields they change."""

    serializer_class = s.BotUpdateSerializer

    def put(self, request, bot_id):
        bot = bot_selectors.bot_get_editable(user=request.user, bot_id=bot_id)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bot = bot_services.bot_update(user=request.user, bot=bot, **serializer.validated_data)
        return Response(bot_body(bot, request.user))


class ModelConfigCreateView(V1View):
    serializer_class = s.ModelConfigCreateSerializer

    def post(self, request, bot_id):
        bot = bot_selectors.bot_get_editable(user=request.user, bot_id=bot_id)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        config = bot_services.model_config_add(bot=bot, **serializer.validated_data)
        return Response(ModelConfigSerializer(config).data)


class TrainView(V1View):
    """`POST /bots/{bot_id}/train`: the upload is stored and indexed in the background;
    the document answers with status `pending`."""

    parser_classes = [MultiPartParser]
    serializer_class = DocumentUploadSerializer

    def post(self, request, bot_id):
        bot = bot_selectors.bot_get_for_knowledge(user=request.user, bot_id=bot_id, write=True)
        request._request.upload_handlers.insert(0, UploadSizeLimit(request._request))
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = bot_services.document_upload(
            user=request.user, bot=bot, file=serializer.validated_data["file"]
        )
        return Response(DocumentSerializer(document).data)


# --- Chat: a plain async view, so the answer streams under ASGI -------------------------
prepare_turn = sync_to_async(db_step(engine.chat_prepare))


def _question(request: HttpRequest) -> str:
    """The query from a JSON body (v1.4.0), else from `?query=` (v1.2.1)."""
    query = None
    has_body = bool(request.body.strip())
    if has_body and (request.content_type == "application/json" or "query" not in request.GET):
        # A body that is not JSON is refused (415) unless the query is in the URL.
        query = parse_json(request, s.ChatRequestSerializer).get("query")
    if query is None:
        query = request.GET.get("query")
    if query is None:
        raise InvalidInput(fields={"query": ["This field is required."]})
    return query


async def _first_text(events: AsyncIterator[dict[str, Any]]) -> str | None:
    """Read the stream up to the answer's first words. When no model can answer, that is
    known here, before the status is sent, and becomes an error response."""
    async for event in events:
        if event["type"] == "delta":
            return event["content"]
        if event["type"] == "error":
            async for _rest in events:  # let the engine finish storing the run
                pass
            raise ChatFailed(event["error"])
    return None


async def _answer_text(first: str | None, events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    try:
        if first is None:
            return
        yield first.encode()
        async for event in events:
            if event["type"] == "delta":
                yield event["content"].encode()
    finally:
        # A client that went away: the model call goes on detached (`chat.services.answers`)
        # and its answer is stored.
        await events.aclose()


@csrf_exempt
@require_POST
@v1_errors
async def chat_view(request: HttpRequest, bot_id: str) -> HttpResponse:
    """`POST /chat/{bot_id}`: the answer as it is written, as plain UTF-8 text. Each call
    is a conversation of its own (v1 had none); its id is in `X-Conversation-Id`."""
    user = await authenticate(request)
    question = _question(request)
    # v1 cannot confirm deleting the bot's oldest conversation when the plan's limit per
    # bot is reached; every v1 chat is a new conversation, so the oldest goes unasked.
    turn = await prepare_turn(
        user=user,
        bot_id=bot_id,
        message=question,
        at_limit=conversations.AtLimit.DELETE_OLDEST,
        channel=Channel.BYTCHAT_V1,
    )
    events = aiter(answers.answer_stream_events(turn))
    try:
        first = await _first_text(events)
    except BaseException:
        await events.aclose()
        raise
    response = StreamingHttpResponse(_answer_text(first, events), content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    response["X-Conversation-Id"] = str(turn.conversation_id)
    return response

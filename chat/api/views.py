import functools
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from bytchat.api.async_views import api_errors, authenticate, parse_json_after, request_user
from bytchat.api.cached_pages import cached_first_page, one_of, page_size
from bytchat.api.pagination import CursorPagination
from bytchat.api.schema import raises
from bytchat.api.sse import KEEPALIVE_COMMENT, KEEPALIVE_SECONDS, sse_event, sse_response
from bytchat.db import db_step
from bytchat.errors import Conflict, InvalidInput, NotFound
from chat import selectors
from chat.api import export
from chat.api import serializers as s
from chat.errors import (
    AnswerEnded,
    AnswerEventsExpired,
    AnswerStopTimeout,
    ChatFailed,
    ConversationArchived,
    ConversationConfirmationRequired,
    ConversationLimitReached,
    MessageLimitReached,
    MessageRateLimited,
    MessageReplaced,
    TokenQuotaExceeded,
)
from chat.models import Channel
from chat.services import answers, api_keys, conversations, engine, versions
from chat.services.feedback import feedback_submit

# At the plan's per-bot limit the native API (and the panel, which serves these views)
# asks the client to confirm deleting the oldest conversation.
AT_LIMIT = conversations.AtLimit.CONFIRM_THEN_DELETE


def _visible_bot(user, bot_id):
    from bots.selectors import bot_get_visible

    return bot_get_visible(user=user, bot_id=bot_id)


@extend_schema(tags=["conversations"])
class ConversationListCreateView(GenericAPIView):
    pagination_class = CursorPagination

    def get_serializer_class(self):
        return s.ConversationCreateSerializer if self.request.method == "POST" else s.ConversationSerializer

    @extend_schema(
        parameters=[OpenApiParameter("bot", str), OpenApiParameter("archived", bool)],
        responses={200: s.ConversationSerializer(many=True)},
    )
    def get(self, request):
        return cached_first_page(
            request,
            name=selectors.CONVERSATION_LIST_PAGES,
            load=lambda: self._page(request),
            depends_on=selectors.conversation_list_depends_on(user=request.user),
            params={
                "limit": page_size(CursorPagination.max_page_size),
                "archived": one_of("true", "false"),
            },
        )

    def _page(self, request) -> dict:
        filters = s.ConversationListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = selectors.conversation_list(
            user=request.user,
            bot_id=filters.validated_data.get("bot"),
            archived=filters.validated_data.get("archived"),
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.ConversationSerializer(page, many=True).data).data

    @extend_schema(responses={201: s.ConversationSerializer})
    @raises(NotFound, ConversationConfirmationRequired, ConversationLimitReached)
    def post(self, request):
        serializer = s.ConversationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        conversation = conversations.conversation_create(
            user=request.user,
            bot=_visible_bot(request.user, data["bot"]),
            title=data.get("title"),
            at_limit=AT_LIMIT,
            confirm_delete=data["confirm_delete"],
        )
        return Response(s.ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["conversations"])
class ConversationDetailView(GenericAPIView):
    serializer_class = s.ConversationRenameSerializer

    @extend_schema(responses={200: s.ConversationSerializer})
    def get(self, request, conversation_id):
        conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
        return Response(s.ConversationSerializer(conversation).data)

    @extend_schema(responses={200: s.ConversationSerializer})
    def patch(self, request, conversation_id):
        conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        conversation = conversations.conversation_rename(
            conversation=conversation, title=serializer.validated_data["title"]
        )
        return Response(s.ConversationSerializer(conversation).data)

    @extend_schema(responses={204: None})
    def delete(self, request, conversation_id):
        conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
        conversations.conversation_delete(conversation=conversation)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["conversations"])
class ConversationArchiveView(GenericAPIView):
    serializer_class = s.ConversationArchiveSerializer

    @extend_schema(responses={200: s.ConversationSerializer})
    def post(self, request, conversation_id):
        conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        conversation = conversations.conversation_set_archived(
            conversation=conversation, archived=serializer.validated_data["archived"]
        )
        return Response(s.ConversationSerializer(conversation).data)


class MessagePagination(CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100
    ordering = ("created_at", "id")


@extend_schema(tags=["conversations"])
class MessageListView(GenericAPIView):
    pagination_class = MessagePagination
    serializer_class = s.MessageSerializer

    @extend_schema(responses={200: s.MessageSerializer(many=True)})
    def get(self, request, conversation_id):
        conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
        page = self.paginate_queryset(selectors.message_list(conversation=conversation))
        return self.get_paginated_response(s.MessageSerializer(page, many=True).data)


@extend_schema(tags=["chat"])
class FeedbackView(GenericAPIView):
    serializer_class = s.FeedbackRequestSerializer

    @extend_schema(responses={200: s.FeedbackSerializer})
    def post(self, request, message_id):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        feedback = feedback_submit(user=request.user, message_id=message_id, **serializer.validated_data)
        return Response(s.FeedbackSerializer(feedback).data)


@extend_schema(tags=["chat"])
class SuggestionListView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("bot", str, required=True)],
        responses={200: s.SuggestionListSerializer},
    )
    @raises(NotFound)
    def get(self, request):
        query = s.SuggestionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        bot = _visible_bot(request.user, query.validated_data["bot"])
        language = request.user.language
        return Response(
            {"suggestions": selectors.suggestion_list(user=request.user, bot=bot, language=language)}
        )


# --- Streaming chat: a plain async view (DRF views run in a thread and would buffer) ---
result_body = sync_to_async(db_step(lambda result: s.ChatResultSerializer(result).data))


@db_step
def _prepare_turn(user_of: Callable[[], Any], data: dict, channel: str) -> engine.Turn:
    with engine.turn_reads_ahead(data["bot"]):
        return engine.chat_prepare(
            user=user_of(),
            bot_id=data["bot"],
            message=data["message"],
            conversation_id=data.get("conversation"),
            task_type=data.get("task_type"),
            at_limit=AT_LIMIT,
            confirm_delete=data["confirm_delete"],
            metadata_filter=data.get("metadata_filter"),
            channel=channel,
            # A streamed follow-up's question is written while the model is asked.
            write_later=data["stream"],
        )


async def chat_answer(
    data: dict, user_of: Callable[[], Any], *, channel: str = Channel.NATIVE
) -> HttpResponse:
    """Prepare one turn from a validated ChatRequestSerializer body and answer it: the event
    stream, or with `stream: false` the stored result. Every native-protocol surface (the
    API with a Bearer token, the panel with its session) answers through here.

    `user_of()` finds the caller (or raises NotAuthenticated) in the same database step
    that checks the limits and stores the question: one thread hop before the first token."""
    turn = await sync_to_async(_prepare_turn)(user_of, data, channel)
    return await turn_answer(turn, stream=data["stream"])


def _sse_bytes(item: tuple[int, dict] | None) -> bytes:
    """A reader's numbered event as SSE, or its keep-alive (`answers.IDLE`)."""
    return KEEPALIVE_COMMENT if item is answers.IDLE else sse_event(item[1], event_id=item[0])


async def turn_answer(turn: engine.Turn, *, stream: bool) -> HttpResponse:
    """Answer a prepared turn (a new question, a regeneration, an edit): the event stream,
    or without `stream` the stored result."""
    if not stream:
        result = await engine.chat_complete_async(turn)
        return JsonResponse(await result_body(result), status=201)

    stream = answers.answer_stream(turn, idle=KEEPALIVE_SECONDS)
    # Before the response: it raises the limit a question written late no longer fits.
    first = await anext(stream)

    async def events():
        yield _sse_bytes(first)
        async for item in stream:
            yield _sse_bytes(item)

    return sse_response(events(), keeps_alive=True)


def last_event_id(request: HttpRequest) -> int:
    """Where a resuming client stands: the `Last-Event-ID` header (EventSource sends it
    when it reconnects by itself), else the `last_event_id` query parameter."""
    header = request.headers.get("Last-Event-ID")
    data = {"last_event_id": header} if header is not None else request.GET.dict()
    query = s.AnswerEventsQuerySerializer(data=data)
    query.is_valid(raise_exception=True)
    return query.validated_data["last_event_id"]


async def answer_events_response(request: HttpRequest, message_id, user) -> HttpResponse:
    """The rest of the caller's answer after `Last-Event-ID`, then its live tail, from
    whichever web process runs it (or ran it)."""
    after = last_event_id(request)
    await answers.answer_state(user_id=user.pk, answer_id=message_id)

    async def events():
        async for item in answers.answer_events(
            user_id=user.pk, answer_id=message_id, after=after, idle=KEEPALIVE_SECONDS
        ):
            yield _sse_bytes(item)

    return sse_response(events(), keeps_alive=True)


@require_GET
@api_errors
async def answer_events_view(request: HttpRequest, message_id) -> HttpResponse:
    user = await authenticate(request)
    return await answer_events_response(request, message_id, user)


class AnswerEventsSchemaView(APIView):
    """OpenAPI description of `answer_events_view` (routed after it, never reached)."""

    @extend_schema(
        tags=["chat"],
        parameters=[
            OpenApiParameter("last_event_id", int, description="Resume after this event id."),
            OpenApiParameter(
                "Last-Event-ID",
                int,
                location=OpenApiParameter.HEADER,
                description="Same; wins over the query.",
            ),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                description="The answer's events after the given id (each with its `id:` line), then "
                "the live tail up to `done` or `error`. `done` carries `stopped: true` for an answer "
                "its user stopped and `incomplete: true` for one cut short."
            ),
        },
    )
    @raises(NotFound, AnswerEventsExpired)
    def get(self, request, message_id):  # pragma: no cover - never routed to
        raise NotImplementedError


@extend_schema(tags=["chat"])
class AnswerStopView(APIView):
    """Stop one of your answers while it streams, from any web process."""

    @extend_schema(request=None, responses={200: s.MessageSerializer})
    @raises(NotFound, AnswerEnded, AnswerStopTimeout)
    def post(self, request, message_id):
        async_to_sync(answers.answer_stop)(user_id=request.user.pk, answer_id=message_id)
        message = selectors.answer_get(user=request.user, message_id=message_id)
        return Response(s.MessageSerializer(message).data)


@csrf_exempt
@require_POST
@api_errors
async def chat_view(request: HttpRequest) -> HttpResponse:
    data = await parse_json_after(lambda: authenticate(request), request, s.ChatRequestSerializer)
    return await chat_answer(data, functools.partial(request_user, request))


@db_step
def _prepare_regenerate(user_of: Callable[[], Any], message_id, data: dict, channel: str) -> engine.Turn:
    return versions.chat_prepare_regenerate(
        user=user_of(),
        message_id=message_id,
        task_type=data.get("task_type"),
        model=data.get("model"),
        channel=channel,
    )


@db_step
def _prepare_edit(user_of: Callable[[], Any], message_id, data: dict, channel: str) -> engine.Turn:
    return versions.chat_prepare_edit(
        user=user_of(),
        message_id=message_id,
        message=data["message"],
        task_type=data.get("task_type"),
        channel=channel,
    )


async def regenerate_answer(
    message_id, data: dict, user_of: Callable[[], Any], *, channel: str = Channel.NATIVE
) -> HttpResponse:
    """Answer `message_id`'s question again (a validated RegenerateRequestSerializer body),
    streamed like any turn; the API and the panel both answer through here."""
    turn = await sync_to_async(_prepare_regenerate)(user_of, message_id, data, channel)
    return await turn_answer(turn, stream=data["stream"])


async def edit_answer(
    message_id, data: dict, user_of: Callable[[], Any], *, channel: str = Channel.NATIVE
) -> HttpResponse:
    """Replace question `message_id` (a validated EditRequestSerializer body) and answer it."""
    turn = await sync_to_async(_prepare_edit)(user_of, message_id, data, channel)
    return await turn_answer(turn, stream=data["stream"])


@csrf_exempt
@require_POST
@api_errors
async def regenerate_view(request: HttpRequest, message_id) -> HttpResponse:
    data = await parse_json_after(lambda: authenticate(request), request, s.RegenerateRequestSerializer)
    return await regenerate_answer(message_id, data, functools.partial(request_user, request))


@csrf_exempt
@require_POST
@api_errors
async def edit_view(request: HttpRequest, message_id) -> HttpResponse:
    data = await parse_json_after(lambda: authenticate(request), request, s.EditRequestSerializer)
    return await edit_answer(message_id, data, functools.partial(request_user, request))


# What `engine.chat_prepare` (and `chat_complete_async` without streaming) can refuse with.
CHAT_ERRORS = (
    NotFound,
    ConversationConfirmationRequired,
    ConversationLimitReached,
    ConversationArchived,
    MessageLimitReached,
    Conflict,
    MessageRateLimited,
    TokenQuotaExceeded,
    ChatFailed,
)


class ChatSchemaView(APIView):
    """OpenAPI description of `chat_view`. Routed after it at the same path, so Django
    never reaches it; it exists because the schema generator only reads DRF views."""

    # chat_view is not throttled by DRF: its 429s are the plan's (CHAT_ERRORS).
    throttle_classes: list = []

    @extend_schema(
        tags=["chat"],
        request=s.ChatRequestSerializer,
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                description="One JSON object per `data:` line: session_init, tool_use, delta, "
                "citations, then done or error. Keep-alive comments every 15 s while idle."
            ),
            201: s.ChatResultSerializer,
        },
    )
    @raises(*CHAT_ERRORS)
    def post(self, request):  # pragma: no cover - never routed to
        raise NotImplementedError


TURN_STREAM = OpenApiResponse(
    description="The answer, as the events of `POST chat` (its `session_init` names the question "
    "answered and the new answer's id)."
)
# What regenerating or editing can refuse with: a new message's refusals, and a message
# that a newer version replaced.
VERSION_ERRORS = (*CHAT_ERRORS, MessageReplaced)


class RegenerateSchemaView(APIView):
    """OpenAPI description of `regenerate_view` (see ChatSchemaView)."""

    throttle_classes: list = []

    @extend_schema(
        tags=["chat"],
        request=s.RegenerateRequestSerializer,
        responses={(200, "text/event-stream"): TURN_STREAM, 201: s.ChatResultSerializer},
    )
    @raises(*VERSION_ERRORS)
    def post(self, request, message_id):  # pragma: no cover - never routed to
        raise NotImplementedError


class EditSchemaView(APIView):
    """OpenAPI description of `edit_view` (see ChatSchemaView)."""

    throttle_classes: list = []

    @extend_schema(
        tags=["chat"],
        request=s.EditRequestSerializer,
        responses={(200, "text/event-stream"): TURN_STREAM, 201: s.ChatResultSerializer},
    )
    @raises(*VERSION_ERRORS)
    def post(self, request, message_id):  # pragma: no cover - never routed to
        raise NotImplementedError


@extend_schema(tags=["chat"])
class MessageVersionListView(APIView):
    @extend_schema(responses={200: s.MessageVersionListSerializer})
    @raises(NotFound)
    def get(self, request, message_id):
        found = selectors.message_versions(user=request.user, message_id=message_id)
        return Response({"versions": s.MessageVersionSerializer(found, many=True).data})


class FormatParameterIgnored(BaseContentNegotiation):
    """The export's `format` names the file, not DRF's renderer (its URL_FORMAT_OVERRIDE):
    answers and errors are rendered by the first renderer, JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema(tags=["conversations"])
class ConversationExportView(APIView):
    content_negotiation_class = FormatParameterIgnored

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "md"], description="json (default) or md")],
        responses={
            (200, "application/json"): s.ConversationExportSerializer,
            (200, "text/markdown"): OpenApiResponse(
                response=OpenApiTypes.STR, description="The conversation as a Markdown file."
            ),
        },
    )
    @raises(NotFound)
    def get(self, request, conversation_id):
        query = s.ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        conversation, shown = selectors.conversation_export(
            user=request.user, conversation_id=conversation_id
        )
        body = s.ConversationExportSerializer(
            {
                "conversation": conversation,
                "bot": {"id": conversation.bot_id, "name": conversation.bot.name_for(request.user.language)},
                "exported_at": timezone.now(),
                "messages": shown,
            }
        ).data
        if query.validated_data["format"] == "md":
            response = HttpResponse(
                export.conversation_markdown(body), content_type="text/markdown; charset=utf-8"
            )
            extension = "md"
        else:
            response = JsonResponse(body, json_dumps_params={"ensure_ascii": False, "indent": 2})
            extension = "json"
        response["Content-Disposition"] = (
            f'attachment; filename="{export.file_name(conversation)}.{extension}"'
        )
        return response


# --- API keys (for the OpenAI-compatible API) --------------------------------------------
@extend_schema(tags=["api-keys"])
class ApiKeyListCreateView(GenericAPIView):
    def get_serializer_class(self):
        return s.ApiKeyCreateSerializer if self.request.method == "POST" else s.ApiKeySerializer

    @extend_schema(responses={200: s.ApiKeySerializer(many=True)})
    def get(self, request):
        keys = selectors.api_key_list(user=request.user)
        return Response(s.ApiKeySerializer(keys, many=True).data)

    @extend_schema(responses={201: s.ApiKeyCreatedSerializer})
    @raises(InvalidInput)
    def post(self, request):
        serializer = s.ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        created = api_keys.api_key_create(
            user=request.user,
            name=data["name"],
            bot_ids=data.get("bots"),
            requests_per_minute=data.get("requests_per_minute"),
            expires_at=data.get("expires_at"),
        )
        body = s.ApiKeySerializer(created.key).data
        return Response({**body, "secret": created.secret}, status=status.HTTP_201_CREATED)


@extend_schema(tags=["api-keys"])
class ApiKeyDetailView(GenericAPIView):
    serializer_class = s.ApiKeySerializer

    @extend_schema(responses={200: s.ApiKeySerializer})
    @raises(NotFound)
    def get(self, request, key_id):
        return Response(s.ApiKeySerializer(selectors.api_key_get(user=request.user, key_id=key_id)).data)

    @extend_schema(request=None, responses={200: s.ApiKeySerializer}, summary="Revoke the key")
    @raises(NotFound)
    def delete(self, request, key_id):
        """Revoke: the key stops working at once; it stays listed, with `revoked_at`."""
        key = api_keys.api_key_revoke(key=selectors.api_key_get(user=request.user, key_id=key_id))
        return Response(s.ApiKeySerializer(key).data)

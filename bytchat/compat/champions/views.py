"""The Champions Loan Expert API over Bytchat's services and selectors.

Thin views: parse, authorize, call one service or selector, shape the documented body.
Errors go through `errors.py` (one table from native codes to the documented ones).
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework import serializers as drf_serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import User
from analytics import selectors as analytics_selectors
from analytics.periods import Period
from bots import selectors as bot_selectors
from bytchat.api.async_views import authenticate, parse_json
from bytchat.api.client import client_ip
from bytchat.api.errors import errors_rendered_by
from bytchat.api.pagination import newest_first_page
from bytchat.api.permissions import IsAdmin, IsManagerOrAdmin
from bytchat.api.sse import KEEPALIVE_COMMENT, KEEPALIVE_SECONDS, sse_event, sse_response
from bytchat.db import db_step
from chat import selectors as chat_selectors
from chat.models import Channel
from chat.services import answers, conversations, engine
from chat.services.feedback import feedback_submit

from . import serializers as s
from .assistant import champions_bot
from .errors import error_response, exception_handler

logger = logging.getLogger(__name__)


class ChampionsView(APIView):
    """Every Champions view: JWT Bearer, its own error body, out of the native schema."""

    schema = None
    permission_classes = [IsAuthenticated]

    def get_exception_handler(self):
        return exception_handler


def _query(request, serializer_class) -> dict[str, Any]:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _body(request, serializer_class) -> dict[str, Any]:
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


def _timestamp(value) -> str | None:
    return drf_serializers.DateTimeField().to_representation(value) if value else None


# --- Auth -------------------------------------------------------------------------------


class LoginView(ChampionsView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def post(self, request):
        data = _body(request, s.LoginSerializer)
        user, tokens = account_services.auth_login(
            email=data["email"], password=data["password"], ip=client_ip(request)
        )
        return Response(
            {"access_token": tokens.access, "token_type": tokens.token_type, "user": s.user_brief(user)}
        )


class MeView(ChampionsView):
    def get(self, request):
        return Response(s.user_brief(request.user))


class UserListView(ChampionsView):
    permission_classes = [IsManagerOrAdmin]

    def get(self, request):
        users = account_selectors.user_list()
        return Response({"items": s.UserSerializer(users, many=True).data})


class UserRoleView(ChampionsView):
    permission_classes = [IsAdmin]

    def patch(self, request, user_id):
        user = account_selectors.user_get(user_id=user_id)
        role = _body(request, s.RoleChangeSerializer)["role"]
        user = account_services.user_admin_update(actor=request.user, user=user, role=role)
        return Response(s.user_brief(user))


# --- Suggestions --------------------------------------------------------------------------


class SuggestionListView(ChampionsView):
    def get(self, request):
        bot = champions_bot(user=request.user, bot_id=_query(request, s.BotQuerySerializer).get("bot"))
        suggestions = chat_selectors.suggestion_list(
            user=request.user, bot=bot, language=request.user.language
        )
        return Response({"suggestions": suggestions})


# --- Conversations ------------------------------------------------------------------------


class ConversationListView(ChampionsView):
    def get(self, request):
        query = _query(request, s.ConversationListQuerySerializer)
        archived = None if query["include_archived"] else False
        items = chat_selectors.conversation_list(user=request.user, archived=archived)
        # The cursor is the creation time of the last conversation of the previous page,
        # as the Champions document shows it.
        if "cursor" in query:
            items = items.filter(created_at__lt=query["cursor"])
        page = newest_first_page(items, limit=query["limit"])
        return Response(
            {
                "items": s.ConversationSerializer(page.items, many=True).data,
                "next_cursor": _timestamp(page.last.created_at) if page.last else None,
            }
        )


class ConversationDetailView(ChampionsView):
    def get(self, request, conversation_id):
        conversation = chat_selectors.conversation_get(user=request.user, conversation_id=conversation_id)
        messages = list(chat_selectors.message_list(conversation=conversation))
        return Response(
            {
                "conversation": s.ConversationSerializer(conversation).data,
                "messages": [s.message_body(message) for message in messages],
                "citations": [
                    s.stored_citation_body(citation)
                    for message in messages
                    for citation in message.citations.all()
                ],
            }
        )

    def patch(self, request, conversation_id):
        conversation = chat_selectors.conversation_get(user=request.user, conversation_id=conversation_id)
        title = _body(request, s.RenameSerializer)["title"]
        conversation = conversations.conversation_rename(conversation=conversation, title=title)
        return Response(
            {"id": str(conversation.pk), "title": conversation.title, "archived": conversation.archived}
        )


class ConversationArchiveView(ChampionsView):
    def post(self, request, conversation_id):
        conversation = chat_selectors.conversation_get(user=request.user, conversation_id=conversation_id)
        archived = _body(request, s.ArchiveSerializer)["archived"]
        conversation = conversations.conversation_set_archived(conversation=conversation, archived=archived)
        return Response(
            {
                "id": str(conversation.pk),
                "archived": conversation.archived,
                "archived_at": _timestamp(conversation.archived_at),
            }
        )


class FeedbackView(ChampionsView):
    def post(self, request):
        data = _body(request, s.FeedbackRequestSerializer)
        feedback = feedback_submit(
            user=request.user,
            message_id=data["message_id"],
            rating=data["rating"],
            comment=data.get("comment") or "",
        )
        return Response(s.FeedbackSerializer(feedback).data)


# --- Admin ----------------------------------------------------------------------------------


class AnalyticsView(ChampionsView):
    permission_classes = [IsManagerOrAdmin]

    def get(self, request):
        period = Period.last(_query(request, s.AnalyticsQuerySerializer)["days"])
        overview = analytics_selectors.overview(period=period, language=request.user.language)
        points = analytics_selectors.daily_series(period=period)
        return Response(
            {
                "summary": {
                    "total_users": overview.total_users,
                    "total_conversations": overview.conversations,
                    "total_messages": overview.messages,
                    "total_tokens": overview.tokens,
                    "total_runs": overview.runs,
                    "total_errors": overview.errors,
                },
                "daily_stats": [
                    {
                        "date": point.date.isoformat(),
                        "runs": point.runs,
                        "tokens": point.tokens,
                        "errors": point.errors,
                        "active_users": point.active_users,
                    }
                    for point in points
                ],
                "period_days": period.days,
            }
        )


class RunListView(ChampionsView):
    permission_classes = [IsManagerOrAdmin]

    def get(self, request):
        query = _query(request, s.RunQuerySerializer)
        runs = analytics_selectors.run_list(status=query.get("status"), user=query.get("user_id"))
        # `next_cursor` is the last run of a page: the next page continues after it.
        page = newest_first_page(
            runs, limit=query["limit"], offset=query["offset"], after=query.get("cursor")
        )
        return Response(
            {
                "items": s.RunSerializer(page.items, many=True).data,
                "total": runs.count(),
                "next_cursor": str(page.last.pk) if page.last else None,
            }
        )


class AdminUserListView(UserListView):
    pass


class AdminUserStatusView(ChampionsView):
    # Changing an account is an admin's act in Bytchat; managers read (see docs/compat.md, Champions).
    permission_classes = [IsAdmin]

    def patch(self, request, user_id):
        user = account_selectors.user_get(user_id=user_id)
        status = _body(request, s.StatusChangeSerializer)["status"]
        user = account_services.user_set_status(actor=request.user, user=user, status=status)
        return Response({"id": str(user.pk), "status": user.status})


class AdminConversationListView(ChampionsView):
    # Every user's conversations are for admins only, as in the native API.
    permission_classes = [IsAdmin]

    def get(self, request):
        query = _query(request, s.PageQuerySerializer)
        items = analytics_selectors.conversation_list_all(actor=request.user).order_by("-created_at", "-id")
        page = items[query["offset"] : query["offset"] + query["limit"]]
        return Response({"items": s.AdminConversationSerializer(page, many=True).data})


class AdminConversationDeleteView(ChampionsView):
    permission_classes = [IsAdmin]

    def delete(self, request, conversation_id):
        conversation = analytics_selectors.conversation_get_any(
            actor=request.user, conversation_id=conversation_id
        )
        conversations.conversation_delete(conversation=conversation)
        logger.info("Admin %s deleted conversation %s", request.user.pk, conversation_id)
        return Response({"deleted": True})


class AdminDocumentListView(ChampionsView):
    permission_classes = [IsManagerOrAdmin]

    def get(self, request):
        bot = champions_bot(user=request.user, bot_id=_query(request, s.BotQuerySerializer).get("bot"))
        bot = bot_selectors.bot_get_for_knowledge(user=request.user, bot_id=bot.pk)
        documents = bot_selectors.document_list(bot=bot)
        return Response({"items": s.DocumentSerializer(documents, many=True).data})


# --- Streaming chat: a plain async view (DRF views run in a thread and would buffer) ------


def _prepare(*, user: User, data: dict[str, Any]) -> engine.Turn:
    """The turn, with the bot the request names, else its conversation's, else the default."""
    bot_id = data.get("bot")
    conversation_id = data.get("conversation_id")
    if not bot_id and conversation_id:
        bot_id = chat_selectors.conversation_get(user=user, conversation_id=conversation_id).bot_id
    bot = champions_bot(user=user, bot_id=bot_id)
    # Champions defines its limit as active conversations, refused until one is archived.
    return engine.chat_prepare(
        user=user,
        bot_id=bot.pk,
        message=data["message"],
        conversation_id=conversation_id,
        at_limit=conversations.AtLimit.REFUSE,
        metadata_filter=data.get("metadata_filter"),
        channel=Channel.CHAMPIONS,
    )


prepare_turn = sync_to_async(db_step(_prepare))


def _citations(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        s.citation_body(
            index=payload["index"],
            document_id=payload.get("document_id"),
            source_name=payload["source_name"],
            page_numbers=payload.get("page_numbers") or [],
            snippet=payload.get("snippet", ""),
            score=payload.get("score", 0.0),
            document_metadata=payload.get("metadata"),
        )
        for payload in payloads
    ]


def champions_event(event: dict[str, Any]) -> dict[str, Any]:
    """An engine event with exactly the fields the Champions document lists."""
    kind = event["type"]
    if kind == "session_init":
        return {"type": kind, "conversation_id": event["conversation_id"], "message_id": event["message_id"]}
    if kind == "tool_use":
        # Champions named its retrieval step after Gemini's File Search tool.
        return {"type": kind, "tool": "file_search", "status": event["status"]}
    if kind == "delta":
        return {"type": kind, "content": event["content"]}
    if kind == "citations":
        return {
            "type": kind,
            "citations": _citations(event["citations"]),
            "inline_citations": event["inline_citations"],
        }
    if kind == "done":
        return {"type": kind, "message_id": event["message_id"], "tokens_used": event["tokens_used"]}
    if kind == "error":
        return {"type": kind, "code": event["code"], "error": event["error"]}
    return event


@db_step
def _result_body(result: engine.ChatResult) -> dict[str, Any]:
    answer = result.assistant_message
    citations = list(answer.citations.all())
    return {
        "conversation_id": str(result.conversation.pk),
        "message_id": str(answer.pk),
        "content": answer.content,
        "model": answer.model or None,
        "tokens_used": answer.tokens_used,
        "citations": [s.stored_citation_body(citation) for citation in citations],
        "inline_citations": answer.inline_citations or [],
    }


result_body = sync_to_async(_result_body)


@csrf_exempt
@require_POST
@errors_rendered_by(error_response)
async def chat_view(request: HttpRequest) -> HttpResponse:
    user = await authenticate(request)
    data = parse_json(request, s.ChatRequestSerializer)
    turn = await prepare_turn(user=user, data=data)
    if not data["stream"]:
        result = await engine.chat_complete_async(turn)
        return JsonResponse(await result_body(result))

    async def events():
        # Detached from this connection like the native stream; Champions' documented
        # protocol has no `id:` lines, so none are added (resume is the native API's).
        async for event in answers.answer_stream_events(turn, idle=KEEPALIVE_SECONDS):
            yield KEEPALIVE_COMMENT if event is answers.IDLE else sse_event(champions_event(event))

    return sse_response(events(), keeps_alive=True)

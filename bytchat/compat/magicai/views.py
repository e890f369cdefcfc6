"""The MagicAI API (magicai-api.md) over Bytchat's services.

Views parse, authorize, call one service or selector and answer in MagicAI's shapes.
Every limit and rule (plans, eviction of the oldest conversation, who sees which agent)
lives in the services; a MagicAI client gets the same answers as a native one.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts import selectors as account_selectors
from accounts import services as account_services
from analytics import selectors as analytics_selectors
from analytics.periods import MAX_DAYS, Period
from analytics.selectors.totals import bot_conversation_totals, user_conversation_totals
from bots import selectors as bot_selectors
from bots import services as bot_services
from bytchat.api.async_views import authenticate, parse_json
from bytchat.api.client import client_ip
from bytchat.api.errors import errors_rendered_by
from bytchat.api.permissions import IsAdmin, IsManagerOrAdmin
from bytchat.compat.magicai import serializers as s
from bytchat.compat.magicai.errors import error_response, exception_handler
from bytchat.db import db_step
from chat import selectors as chat_selectors
from chat.errors import ConversationConfirmationRequired
from chat.models import Channel
from chat.services import conversations, engine


@extend_schema(exclude=True)
class MagicAIView(APIView):
    """Errors in MagicAI's format; texts of categories and agents in the caller's language."""

    def get_exception_handler(self):
        return exception_handler

    def context(self) -> dict[str, Any]:
        return {"language": self.request.user.language}

    @staticmethod
    def valid(serializer_class, data, **kwargs):
        serializer = serializer_class(data=data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer


class AdminWritesView(MagicAIView):
    """Everyone signed in reads; only a Bytchat admin writes."""

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "GET" else [IsAdmin()]


def message(text: str) -> Response:
    return Response({"message": text})


# --- Auth --------------------------------------------------------------------------------
class LoginView(MagicAIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def post(self, request):
        data = self.valid(s.LoginSerializer, request.data).validated_data
        user, tokens = account_services.auth_login(
            email=data["email"], password=data["password"], ip=client_ip(request)
        )
        return Response({"token": tokens.access, "user": s.UserSerializer(user).data})


class RegisterView(MagicAIView):
    permission_classes = [IsAdmin]

    def post(self, request):
        serializer = self.valid(s.RegisterSerializer, request.data)
        user = account_services.user_create(**serializer.service_arguments())
        return Response(s.UserSerializer(user).data, status=status.HTTP_201_CREATED)


class ForgotPasswordView(MagicAIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "password_reset"

    def post(self, request):
        data = self.valid(s.EmailSerializer, request.data).validated_data
        account_services.password_reset_request(email=data["email"])
        return message("If the email exists, a reset link will be sent")


# --- Users and onboarding ----------------------------------------------------------------
class MeView(MagicAIView):
    def get(self, request):
        return Response(s.UserSerializer(request.user).data)

    def put(self, request):
        data = self.valid(s.ProfileUpdateSerializer, request.data).validated_data
        user = account_services.user_update_profile(
            user=request.user, full_name=data.get("fullName"), language=data.get("language")
        )
        return Response(s.UserSerializer(user).data)


class UserListView(MagicAIView):
    permission_classes = [IsManagerOrAdmin]

    def get(self, request):
        users = account_selectors.user_list()
        return Response({"users": s.UserSerializer(users, many=True).data})


class OnboardingStatusView(MagicAIView):
    def get(self, request):
        user = request.user
        return Response(
            {"onboardingCompleted": user.onboarding_completed, "language": s.language_name(user.language)}
        )


class OnboardingLanguageView(MagicAIView):
    def post(self, request):
        data = self.valid(s.LanguageSerializer, request.data).validated_data
        user = account_services.user_update_profile(user=request.user, language=data["language"])
        # MagicAI kept preferences in a row of their own; in Bytchat they are the user's.
        return Response(
            {
                "id": str(user.pk),
                "userId": str(user.pk),
                "language": s.language_name(user.language),
                "createdAt": user.created_at.isoformat(),
                "updatedAt": timezone.now().isoformat(),
            }
        )


class OnboardingCompleteView(MagicAIView):
    def post(self, request):
        user = account_services.user_complete_onboarding(user=request.user)
        return Response({"onboardingCompleted": user.onboarding_completed})


# --- Categories --------------------------------------------------------------------------
class CategoryListCreateView(AdminWritesView):
    def get(self, request):
        categories = bot_selectors.category_list(user=request.user)
        return Response(
            {"categories": s.CategorySerializer(categories, many=True, context=self.context()).data}
        )

    def post(self, request):
        serializer = self.valid(s.CategoryWriteSerializer, request.data)
        category = bot_services.category_create(**serializer.service_arguments())
        category = bot_selectors.category_get(user=request.user, category_id=category.pk)
        body = s.CategoryAdminSerializer(category, context=self.context()).data
        return Response(body, status=status.HTTP_201_CREATED)


class CategoryDetailView(AdminWritesView):
    def get(self, request, category_id):
        category = bot_selectors.category_get(user=request.user, category_id=category_id)
        return Response(s.CategorySerializer(category, context=self.context()).data)

    def put(self, request, category_id):
        category = bot_selectors.category_get(user=request.user, category_id=category_id)
        serializer = self.valid(s.CategoryWriteSerializer, request.data, partial=True)
        bot_services.category_update(category=category, **serializer.service_arguments())
        category = bot_selectors.category_get(user=request.user, category_id=category_id)
        return Response(s.CategoryAdminSerializer(category, context=self.context()).data)

    def delete(self, request, category_id):
        category = bot_selectors.category_get(user=request.user, category_id=category_id)
        bot_services.category_delete(category=category)
        return message("Category deleted successfully")


# --- Agents ------------------------------------------------------------------------------
class AgentListCreateView(AdminWritesView):
    def get(self, request):
        agents = bot_selectors.bot_list(user=request.user)
        return Response({"agents": s.AgentSerializer(agents, many=True, context=self.context()).data})

    def post(self, request):
        """A platform agent every user sees, answering with the given provider and model."""
        serializer = self.valid(s.AgentWriteSerializer, request.data)
        bot = bot_services.bot_create(
            user=request.user,
            platform=True,
            is_public=True,
            initial_configs=[serializer.model_arguments()],
            **serializer.bot_arguments(),
        )
        body = s.AgentAdminSerializer(bot, context=self.context()).data
        return Response(body, status=status.HTTP_201_CREATED)


class AgentByCategoryView(MagicAIView):
    def get(self, request):
        query = self.valid(s.AgentQuerySerializer, request.query_params).validated_data
        category = bot_selectors.category_get(user=request.user, category_id=query["categoryId"])
        agents = bot_selectors.bot_list(user=request.user, category_id=category.pk)
        return Response({"agents": s.AgentSerializer(agents, many=True, context=self.context()).data})


class AgentDetailView(AdminWritesView):
    def get(self, request, agent_id):
        bot = bot_selectors.bot_get_visible(user=request.user, bot_id=agent_id)
        return Response(s.AgentSerializer(bot, context=self.context()).data)

    def put(self, request, agent_id):
        bot = bot_selectors.bot_get_editable(user=request.user, bot_id=agent_id)
        serializer = self.valid(s.AgentWriteSerializer, request.data, partial=True)
        model = serializer.model_arguments()
        with transaction.atomic():
            bot = bot_services.bot_update(user=request.user, bot=bot, **serializer.bot_arguments())
            if model:
                config = s.primary_config(bot)
                if config is None:
                    bot_services.model_config_add(bot=bot, **model)
                else:
                    bot_services.model_config_update(config=config, **model)
        bot = bot_selectors.bot_get_visible(user=request.user, bot_id=agent_id)
        return Response(s.AgentAdminSerializer(bot, context=self.context()).data)

    def delete(self, request, agent_id):
        bot = bot_selectors.bot_get_editable(user=request.user, bot_id=agent_id)
        bot_services.bot_delete(bot=bot)
        return message("Agent deleted successfully")


# --- Conversations -----------------------------------------------------------------------
# MagicAI's rule at the plan's per-bot limit: the client confirms deleting the oldest.
AT_LIMIT = conversations.AtLimit.CONFIRM_THEN_DELETE

WARNINGS = {
    "es": "Has alcanzado el límite de {limit} conversaciones para este agente. "
    "La conversación '{title}' será eliminada al crear una nueva.",
    "en": "You have reached the limit of {limit} conversations for this agent. "
    "The conversation '{title}' will be deleted when you create a new one.",
}


class ConversationListCreateView(MagicAIView):
    def get(self, request):
        query = self.valid(s.ConversationQuerySerializer, request.query_params).validated_data
        found = chat_selectors.conversation_list(user=request.user, bot_id=query.get("agentId"))
        return Response(
            {"conversations": s.ConversationSerializer(found.select_related("bot"), many=True).data}
        )

    def post(self, request):
        data = self.valid(s.ConversationCreateSerializer, request.data).validated_data
        bot = bot_selectors.bot_get_visible(user=request.user, bot_id=data["agentId"])
        try:
            conversation = conversations.conversation_create(
                user=request.user,
                bot=bot,
                title=data.get("title"),
                at_limit=AT_LIMIT,
                confirm_delete=data["confirmDelete"],
            )
        except ConversationConfirmationRequired as needed:
            # Not an error for MagicAI: a 200 that asks the client to confirm the eviction.
            oldest = needed.extra["oldest_conversation"]
            warning = WARNINGS.get(request.user.language, WARNINGS["es"])
            return Response(
                {
                    "requiresConfirmation": True,
                    "warning": warning.format(limit=needed.extra["limit"], title=oldest["title"]),
                    "oldestConversation": {"id": oldest["id"], "title": oldest["title"]},
                }
            )
        return Response(s.ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)


class ConversationDetailView(MagicAIView):
    def get(self, request, conversation_id):
        conversation = chat_selectors.conversation_get(user=request.user, conversation_id=conversation_id)
        return Response(s.ConversationSerializer(conversation).data)

    def delete(self, request, conversation_id):
        conversation = chat_selectors.conversation_get(user=request.user, conversation_id=conversation_id)
        conversations.conversation_delete(conversation=conversation)
        return message("Conversation deleted successfully")


class ConversationTitleView(MagicAIView):
    def put(self, request, conversation_id):
        conversation = chat_selectors.conversation_get(user=request.user, conversation_id=conversation_id)
        data = self.valid(s.TitleSerializer, request.data).validated_data
        conversation = conversations.conversation_rename(conversation=conversation, title=data["title"])
        return Response(s.ConversationSerializer(conversation).data)


# --- Messages: a plain async view, so an answer being written holds no thread ----------
@db_step
def _message_page(user, conversation_id, params) -> dict[str, Any]:
    query = MagicAIView.valid(s.MessagePageQuerySerializer, params).validated_data
    conversation = chat_selectors.conversation_get(user=user, conversation_id=conversation_id)
    messages = chat_selectors.message_list(conversation=conversation)
    limit, offset = query["limit"], query["offset"]
    return {
        "messages": s.MessageSerializer(messages[offset : offset + limit], many=True).data,
        "total": messages.count(),
        "limit": limit,
        "offset": offset,
    }


@db_step
def _prepare_turn(user, conversation_id, content: str) -> engine.Turn:
    conversation = chat_selectors.conversation_get(user=user, conversation_id=conversation_id)
    return engine.chat_prepare(
        user=user,
        bot_id=conversation.bot_id,
        conversation_id=conversation.pk,
        message=content,
        at_limit=AT_LIMIT,
        channel=Channel.MAGICAI,
    )


@db_step
def _result_body(result: engine.ChatResult) -> dict[str, Any]:
    return {
        "userMessage": s.MessageSerializer(result.user_message).data,
        "assistantMessage": s.MessageSerializer(result.assistant_message).data,
    }


@csrf_exempt
@require_http_methods(["GET", "POST"])
@errors_rendered_by(error_response)
async def messages_view(request: HttpRequest, conversation_id) -> HttpResponse:
    user = await authenticate(request)
    if request.method == "GET":
        return JsonResponse(await sync_to_async(_message_page)(user, conversation_id, request.GET))
    data = parse_json(request, s.MessageCreateSerializer)
    turn = await sync_to_async(_prepare_turn)(user, conversation_id, data["content"])
    result = await engine.chat_complete_async(turn)
    return JsonResponse(await sync_to_async(_result_body)(result), status=201)


# --- Admin statistics --------------------------------------------------------------------
class StatsOverviewView(MagicAIView):
    permission_classes = [IsManagerOrAdmin]

    def get(self, request):
        figures = analytics_selectors.overview(period=Period.last(MAX_DAYS), language=request.user.language)
        top = figures.most_used_bot
        most_used = (
            {"id": str(top.id), "nameEs": top.name_es, "nameEn": top.name_en, "usageCount": top.runs}
            if top is not None
            else None
        )
        return Response(
            {
                "totalUsers": figures.total_users,
                "activeUsers": figures.active_users,
                "totalConversations": figures.conversations,
                "totalMessages": figures.messages,
                "mostUsedAgent": most_used,
            }
        )


class StatsUsersView(MagicAIView):
    permission_classes = [IsManagerOrAdmin]

    def get(self, request):
        return Response({"users": s.UserStatsSerializer(user_conversation_totals(), many=True).data})


class StatsAgentsView(MagicAIView):
    permission_classes = [IsManagerOrAdmin]

    def get(self, request):
        agents = bot_conversation_totals()
        return Response({"agents": s.AgentStatsSerializer(agents, many=True, context=self.context()).data})

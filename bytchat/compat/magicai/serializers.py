"""MagicAI's JSON: camelCase names, roles USER/ADMIN, languages ES/EN, providers in capitals.

Output serializers read the caller's language from the context (`language`); texts of
categories and agents come in it, as the MagicAI document says.
"""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework import serializers

from accounts.models import Language, Plan, Role, User
from accounts.selectors import user_plan
from bots.models import Bot, Category, Provider, TaskType
from bytchat.api.fields import OffsetField
from bytchat.api.requests import RequestSerializer
from chat.services.routing import order_specs

# A Bytchat manager reads everything an admin reads, so MagicAI clients see an ADMIN.
ROLE_NAMES = {Role.USER: "USER", Role.MANAGER: "ADMIN", Role.ADMIN: "ADMIN"}
ROLES_IN = {"USER": Role.USER, "ADMIN": Role.ADMIN}
LANGUAGES_IN = {"ES": Language.ES, "EN": Language.EN}
# OPENAI and GEMINI are MagicAI's; LOCAL lets an offline install create agents too.
PROVIDERS_IN = {"OPENAI": Provider.OPENAI, "GEMINI": Provider.GEMINI, "LOCAL": Provider.LOCAL}


def language_name(language: str) -> str:
    return language.upper()


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role, "USER")


class UpperChoiceField(serializers.ChoiceField):
    """A MagicAI enum (`ES`, `ADMIN`...) in, the Bytchat value out; any case accepted."""

    def __init__(self, mapping: dict[str, str], **kwargs: Any) -> None:
        self.mapping = mapping
        super().__init__(choices=list(mapping), **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = data.upper() if isinstance(data, str) else data
        return self.mapping[super().to_internal_value(value)]


# --- Users -------------------------------------------------------------------------------
class PlanSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    maxConversationsPerAgent = serializers.IntegerField(source="max_conversations_per_bot", allow_null=True)
    maxMessagesPerConversation = serializers.IntegerField(
        source="max_messages_per_conversation", allow_null=True
    )


class PlanField(serializers.Field):
    """A plan by its UUID, as magicai-api.md names it; the integer id that earlier Bytchat
    releases sent is still accepted."""

    default_error_messages = {"does_not_exist": "No plan has this id.", "invalid": "Not a plan id."}

    def to_internal_value(self, data: Any) -> Plan:
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("invalid")
        text = str(data).strip()
        if text.isascii() and text.isdigit():
            lookup = {"pk": int(text)} if len(text) <= 18 else None
        else:
            try:
                lookup = {"public_id": uuid.UUID(text)}
            except ValueError:
                self.fail("invalid")
        plan = Plan.objects.filter(**lookup).first() if lookup else None
        if plan is None:
            self.fail("does_not_exist")
        return plan

    def to_representation(self, plan: Plan) -> str:
        return str(plan.public_id)


def plan_data(plan: Plan) -> dict[str, Any] | None:
    """The plan whose limits apply; null when there is none at all (no limits)."""
    return PlanSerializer(plan).data if plan.pk is not None else None


class UserSerializer(serializers.Serializer):
    id = serializers.CharField()
    email = serializers.EmailField()
    fullName = serializers.CharField(source="full_name")
    role = serializers.SerializerMethodField()
    isActive = serializers.BooleanField(source="is_active")
    onboardingCompleted = serializers.BooleanField(source="onboarding_completed")
    subscriptionType = serializers.SerializerMethodField()
    language = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")

    def get_role(self, user: User) -> str:
        return role_name(user.role)

    def get_subscriptionType(self, user: User) -> dict[str, Any] | None:
        return plan_data(user_plan(user))

    def get_language(self, user: User) -> str:
        return language_name(user.language)


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    fullName = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    role = UpperChoiceField(ROLES_IN, required=False, default="USER")
    subscriptionTypeId = PlanField(required=False, allow_null=True, default=None)
    language = UpperChoiceField(LANGUAGES_IN, required=False, default="ES")

    def service_arguments(self) -> dict[str, Any]:
        data = self.validated_data
        return {
            "email": data["email"],
            "password": data["password"],
            "full_name": data["fullName"],
            "role": data["role"],
            "plan": data["subscriptionTypeId"],
            "language": data["language"],
        }


class EmailSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class ProfileUpdateSerializer(serializers.Serializer):
    fullName = serializers.CharField(max_length=200, required=False, allow_blank=True)
    language = UpperChoiceField(LANGUAGES_IN, required=False)


class LanguageSerializer(serializers.Serializer):
    language = UpperChoiceField(LANGUAGES_IN)


# --- Categories --------------------------------------------------------------------------
class LocalizedSerializer(serializers.Serializer):
    @property
    def language(self) -> str:
        return self.context["language"]


class CategorySerializer(LocalizedSerializer):
    id = serializers.CharField()
    name = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    icon = serializers.CharField()
    displayOrder = serializers.IntegerField(source="display_order")
    agentCount = serializers.IntegerField(source="agent_count", default=0)

    def get_name(self, category: Category) -> str:
        return category.name_for(self.language)

    def get_description(self, category: Category) -> str:
        return category.description_for(self.language)


class CategoryAdminSerializer(CategorySerializer):
    nameEs = serializers.CharField(source="name_es")
    nameEn = serializers.CharField(source="name_en")
    descriptionEs = serializers.CharField(source="description_es")
    descriptionEn = serializers.CharField(source="description_en")
    isActive = serializers.BooleanField(source="is_active")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class CategoryWriteSerializer(serializers.Serializer):
    FIELDS = {
        "nameEs": "name_es",
        "nameEn": "name_en",
        "descriptionEs": "description_es",
        "descriptionEn": "description_en",
        "icon": "icon",
        "displayOrder": "display_order",
        "isActive": "is_active",
    }

    nameEs = serializers.CharField(max_length=100)
    nameEn = serializers.CharField(max_length=100)
    descriptionEs = serializers.CharField(required=False, allow_blank=True)
    descriptionEn = serializers.CharField(required=False, allow_blank=True)
    icon = serializers.CharField(max_length=64, required=False, allow_blank=True)
    displayOrder = serializers.IntegerField(min_value=0, max_value=100_000, required=False)
    isActive = serializers.BooleanField(required=False)

    def service_arguments(self) -> dict[str, Any]:
        return {self.FIELDS[name]: value for name, value in self.validated_data.items()}


# --- Agents ------------------------------------------------------------------------------
def primary_config(bot: Bot):
    """The model a general question goes to first: what MagicAI calls the agent's model."""
    ordered = order_specs(bot.model_configs.all(), TaskType.GENERAL)
    return ordered[0] if ordered else None


def provider_name(bot: Bot) -> str | None:
    config = primary_config(bot)
    return config.provider.upper() if config is not None else None


class CategoryRefSerializer(LocalizedSerializer):
    id = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, category: Category) -> str:
        return category.name_for(self.language)


class AgentSerializer(LocalizedSerializer):
    id = serializers.CharField()
    name = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    aiProvider = serializers.SerializerMethodField()
    modelName = serializers.SerializerMethodField()
    # Bytchat agents have no client-side tools: knowledge search runs inside every answer.
    hasTools = serializers.SerializerMethodField()
    category = serializers.SerializerMethodField()

    def get_name(self, bot: Bot) -> str:
        return bot.name_for(self.language)

    def get_description(self, bot: Bot) -> str:
        return bot.description_for(self.language)

    def get_aiProvider(self, bot: Bot) -> str | None:
        return provider_name(bot)

    def get_modelName(self, bot: Bot) -> str | None:
        config = primary_config(bot)
        return config.model_id if config is not None else None

    def get_hasTools(self, bot: Bot) -> bool:
        return False

    def get_category(self, bot: Bot) -> dict[str, Any] | None:
        if bot.category is None or not bot.category.is_active:
            return None
        return CategoryRefSerializer(bot.category, context=self.context).data


class AgentAdminSerializer(AgentSerializer):
    categoryId = serializers.CharField(source="category_id", allow_null=True)
    nameEs = serializers.CharField(source="name_es")
    nameEn = serializers.CharField(source="name_en")
    descriptionEs = serializers.CharField(source="description_es")
    descriptionEn = serializers.CharField(source="description_en")
    systemPrompt = serializers.CharField(source="system_prompt")
    isActive = serializers.BooleanField(source="is_active")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class AgentWriteSerializer(serializers.Serializer):
    TEXT_FIELDS = {
        "nameEs": "name_es",
        "nameEn": "name_en",
        "descriptionEs": "description_es",
        "descriptionEn": "description_en",
        "systemPrompt": "system_prompt",
    }

    categoryId = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    nameEs = serializers.CharField(max_length=200, required=False, allow_blank=True)
    nameEn = serializers.CharField(max_length=200, required=False, allow_blank=True)
    descriptionEs = serializers.CharField(required=False, allow_blank=True)
    descriptionEn = serializers.CharField(required=False, allow_blank=True)
    systemPrompt = serializers.CharField(required=False, allow_blank=True)
    aiProvider = UpperChoiceField(PROVIDERS_IN)
    modelName = serializers.CharField(max_length=200)

    def bot_arguments(self) -> dict[str, Any]:
        data = self.validated_data
        arguments = {
            self.TEXT_FIELDS[name]: value for name, value in data.items() if name in self.TEXT_FIELDS
        }
        if "categoryId" in data:
            arguments["category"] = data["categoryId"]
        return arguments

    def model_arguments(self) -> dict[str, Any]:
        data = self.validated_data
        arguments = {}
        if "aiProvider" in data:
            arguments["provider"] = data["aiProvider"]
        if "modelName" in data:
            arguments["model_id"] = data["modelName"]
        return arguments


class AgentQuerySerializer(serializers.Serializer):
    categoryId = serializers.UUIDField()


# --- Conversations and messages ---------------------------------------------------------
class AgentRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    nameEs = serializers.CharField(source="name_es")
    nameEn = serializers.CharField(source="name_en")


class ConversationSerializer(serializers.Serializer):
    id = serializers.CharField()
    userId = serializers.CharField(source="user_id")
    agentId = serializers.CharField(source="bot_id")
    title = serializers.CharField()
    messageCount = serializers.IntegerField(source="message_count")
    lastMessageAt = serializers.DateTimeField(source="last_message_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    agent = AgentRefSerializer(source="bot")


class ConversationQuerySerializer(serializers.Serializer):
    agentId = serializers.UUIDField(required=False)


class ConversationCreateSerializer(serializers.Serializer):
    agentId = serializers.UUIDField()
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    confirmDelete = serializers.BooleanField(required=False, default=False)


class TitleSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)


class MessageSerializer(serializers.Serializer):
    id = serializers.CharField()
    role = serializers.SerializerMethodField()
    content = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")

    def get_role(self, message) -> str:
        return message.role.upper()


class MessagePageQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=50)
    offset = OffsetField()


class MessageCreateSerializer(RequestSerializer):
    content = serializers.CharField(trim_whitespace=False, allow_blank=True)


# --- Admin statistics --------------------------------------------------------------------
class UserStatsSerializer(serializers.Serializer):
    id = serializers.CharField()
    email = serializers.EmailField()
    fullName = serializers.CharField(source="full_name")
    conversationCount = serializers.IntegerField(source="conversation_count")
    isActive = serializers.BooleanField(source="is_active")
    createdAt = serializers.DateTimeField(source="created_at")


class AgentStatsSerializer(LocalizedSerializer):
    id = serializers.CharField()
    nameEs = serializers.CharField(source="name_es")
    nameEn = serializers.CharField(source="name_en")
    categoryName = serializers.SerializerMethodField()
    conversationCount = serializers.IntegerField(source="conversation_count")
    aiProvider = serializers.SerializerMethodField()

    def get_categoryName(self, bot: Bot) -> str | None:
        return bot.category.name_for(self.language) if bot.category is not None else None

    def get_aiProvider(self, bot: Bot) -> str | None:
        return provider_name(bot)

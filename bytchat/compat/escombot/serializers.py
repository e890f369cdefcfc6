"""ESCOMBOT's request and response shapes (camelCase, roles `bot`/`user`)."""

from __future__ import annotations

from datetime import UTC, datetime

from rest_framework import serializers

from accounts.models import User
from bytchat.api.requests import RequestSerializer
from chat.models import Conversation, Message, MessageRole

# The document's role names: Bytchat's `assistant` is ESCOMBOT's `bot`.
ROLES = {MessageRole.ASSISTANT: "bot", MessageRole.USER: "user"}


def iso_seconds(moment: datetime) -> str:
    """`2024-01-04T10:30:00Z`, as the document writes createdAt and updatedAt."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(moment: datetime) -> str:
    """`2024-01-04T10:30:00.000Z`, as the document writes a message's timestamp."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- Requests: presence only; the rules (lengths, limits) are the services' ---------------
class LoginRequestSerializer(serializers.Serializer):
    email = serializers.CharField(trim_whitespace=True)
    password = serializers.CharField(trim_whitespace=False)


class ChatCreateRequestSerializer(serializers.Serializer):
    title = serializers.CharField(trim_whitespace=True)


class MessageCreateRequestSerializer(RequestSerializer):
    chatId = serializers.CharField(trim_whitespace=True)
    message = serializers.CharField(trim_whitespace=True)


# --- Responses ---------------------------------------------------------------------------
class UserSerializer(serializers.Serializer):
    id = serializers.CharField()
    email = serializers.EmailField()
    firstName = serializers.SerializerMethodField()
    lastName = serializers.SerializerMethodField()
    username = serializers.SerializerMethodField()

    def get_firstName(self, user: User) -> str:
        return user.full_name.strip().partition(" ")[0]

    def get_lastName(self, user: User) -> str:
        return user.full_name.strip().partition(" ")[2].strip()

    def get_username(self, user: User) -> str:
        return user.email.partition("@")[0]


class ChatSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    createdAt = serializers.SerializerMethodField()
    updatedAt = serializers.SerializerMethodField()

    def get_createdAt(self, chat: Conversation) -> str:
        return iso_seconds(chat.created_at)

    def get_updatedAt(self, chat: Conversation) -> str:
        # A new message moves last_message_at, not updated_at: the later of the two.
        moments = [chat.updated_at, chat.last_message_at]
        return iso_seconds(max(moment for moment in moments if moment is not None))


class SentMessageSerializer(serializers.Serializer):
    """A message as POST /messages answers it."""

    id = serializers.CharField()
    chatId = serializers.CharField(source="conversation_id")
    role = serializers.SerializerMethodField()
    content = serializers.CharField()
    timestamp = serializers.SerializerMethodField()

    def get_role(self, message: Message) -> str:
        return ROLES[message.role]

    def get_timestamp(self, message: Message) -> str:
        return iso_millis(message.created_at)


class MessageSerializer(SentMessageSerializer):
    """A message as GET /chats/:id/messages lists it."""

    createdAt = serializers.SerializerMethodField()

    def get_createdAt(self, message: Message) -> str:
        return iso_seconds(message.created_at)

"""Champions request and response shapes over Bytchat's models.

Roles: Champions' `rep` is Bytchat's `user`; `manager` and `admin` are the same.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import Role, User, UserStatus
from analytics.periods import DEFAULT_DAYS, MAX_DAYS
from bytchat.api.fields import OffsetField
from bytchat.api.requests import RequestSerializer
from chat.models import Rating, RunStatus

ROLE_NAMES = {Role.USER: "rep", Role.MANAGER: "manager", Role.ADMIN: "admin"}
ROLES_BY_NAME = {name: role for role, name in ROLE_NAMES.items()}


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role, role)


def blank_as_null(text: str | None) -> str | None:
    return text or None


# --- Requests ---------------------------------------------------------------------------


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class RoleChangeSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=list(ROLES_BY_NAME))

    def validate_role(self, value: str) -> str:
        return ROLES_BY_NAME[value]


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=UserStatus.values)


class ChatRequestSerializer(RequestSerializer):
    # Blank and length checks live in the engine, so every surface gets the same rule.
    message = serializers.CharField(allow_blank=True, trim_whitespace=False)
    conversation_id = serializers.UUIDField(required=False, allow_null=True)
    stream = serializers.BooleanField(required=False, default=True)
    # The native filter language (bots.knowledge.filters), {"program": "DSCR"} at its simplest.
    metadata_filter = serializers.JSONField(required=False, allow_null=True)
    # Not in the Champions document: which assistant answers (see assistant.py).
    bot = serializers.UUIDField(required=False, allow_null=True)


class BotQuerySerializer(serializers.Serializer):
    bot = serializers.UUIDField(required=False)


class ConversationListQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    cursor = serializers.DateTimeField(required=False, input_formats=["iso-8601"])
    include_archived = serializers.BooleanField(required=False, default=False)


class RenameSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)


class ArchiveSerializer(serializers.Serializer):
    archived = serializers.BooleanField()


class FeedbackRequestSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()
    rating = serializers.ChoiceField(choices=Rating.values)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, allow_null=True)


class AnalyticsQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=MAX_DAYS, default=DEFAULT_DAYS)


class RunQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
    offset = OffsetField()
    cursor = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=RunStatus.values, required=False)
    user_id = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False)


class PageQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=500, default=100)
    offset = OffsetField()


# --- Responses --------------------------------------------------------------------------


def user_brief(user: User) -> dict[str, Any]:
    return {"id": str(user.pk), "email": user.email, "role": role_name(user.role)}


class UserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.SerializerMethodField()
    status = serializers.CharField()
    last_login = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_role(self, user: User) -> str:
        return role_name(user.role)


class ConversationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    archived = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def source_uri(document_id: Any) -> str | None:
    return f"files/{document_id}" if document_id else None


def citation_body(
    *,
    index: int,
    document_id: Any,
    source_name: str,
    page_numbers: list[int],
    snippet: str,
    score: float,
    document_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One source in the Champions shape (the SSE citations event and a conversation's
    citations). Bytchat's retrieval score is a rank, not a confidence: it goes in metadata,
    with the document's own metadata (`program`, ...; `document_id` and `score` win a clash)."""
    return {
        "index": index,
        "source_name": source_name,
        "source_uri": source_uri(document_id),
        "page_number": page_numbers[0] if page_numbers else None,
        "page_numbers": list(page_numbers),
        "snippet": snippet,
        "confidence": None,
        "metadata": {
            **(document_metadata or {}),
            "document_id": str(document_id) if document_id else None,
            "score": score,
        },
    }


def message_body(message) -> dict[str, Any]:
    body: dict[str, Any] = {"id": str(message.pk), "role": message.role, "content": message.content}
    if message.role == "assistant":
        body["model"] = message.model or None
        body["tokens_used"] = message.tokens_used
    body["created_at"] = serializers.DateTimeField().to_representation(message.created_at)
    body["inline_citations"] = message.inline_citations if message.role == "assistant" else None
    return body


def stored_citation_body(citation) -> dict[str, Any]:
    body = citation_body(
        index=citation.index,
        document_id=citation.document_id,
        source_name=citation.source_name,
        page_numbers=citation.page_numbers or [],
        snippet=citation.snippet,
        score=citation.score,
        document_metadata=citation.metadata,
    )
    # A conversation holds many answers, each numbering its sources from 1.
    body["message_id"] = str(citation.message_id)
    return body


class FeedbackSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    rating = serializers.CharField()
    comment = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_comment(self, feedback) -> str | None:
        return blank_as_null(feedback.comment)


class RunSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    user_id = serializers.UUIDField(allow_null=True)
    user_email = serializers.SerializerMethodField()
    conversation_id = serializers.UUIDField(allow_null=True)
    message_id = serializers.UUIDField(allow_null=True)
    input_preview = serializers.CharField()
    input_full = serializers.CharField(source="input_text")
    model = serializers.SerializerMethodField()
    tokens_used = serializers.IntegerField()
    latency_ms = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()
    error_code = serializers.SerializerMethodField()
    feedback = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_user_email(self, run) -> str | None:
        return run.user.email if run.user is not None else None

    def get_model(self, run) -> str | None:
        return blank_as_null(run.model)

    def get_error_code(self, run) -> str | None:
        return blank_as_null(run.error_code)

    def get_feedback(self, run) -> dict[str, Any] | None:
        rating = getattr(run, "feedback_rating", None)
        if rating is None:
            return None
        return {"rating": rating, "comment": blank_as_null(run.feedback_comment)}


class AdminConversationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    user_email = serializers.EmailField(source="user.email")
    title = serializers.CharField()
    message_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class DocumentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    # Bytchat indexes documents itself: the document's own id is its index id.
    file_search_doc_id = serializers.CharField(source="pk")
    filename = serializers.CharField(source="original_name")
    program = serializers.SerializerMethodField()
    is_active = serializers.SerializerMethodField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_program(self, document) -> str | None:
        # Champions tagged each file with a loan program: the document's `program` metadata
        # (a list: its items joined with ", ").
        program = (document.metadata or {}).get("program")
        if isinstance(program, list):
            return ", ".join(program) or None
        return None if program is None else str(program)

    def get_is_active(self, document) -> bool:
        return document.status == "ready"

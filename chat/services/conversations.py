"""Conversations and the plan limits on them."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import user_limits_lock, user_plan
from bytchat.errors import NotFound
from chat.errors import ConversationConfirmationRequired, ConversationLimitReached
from chat.models import Conversation

TITLE_MAX = 200


def title_from_message(text: str) -> str:
    """A conversation's first message, on one line, cut at a word near 60 characters."""
    line = " ".join(text.split())
    if len(line) <= 60:
        return line or "New conversation"
    cut = line[:60].rsplit(" ", 1)[0] or line[:60]
    return cut + "…"


def conversation_create(
    *, user: User, bot, title: str | None = None, confirm_delete: bool = False
) -> Conversation:
    """Create a conversation under the plan's limits (taking the user's limits lock)."""
    plan = user_plan(user)
    with transaction.atomic():
        user_limits_lock(user=user)
        per_bot = Conversation.objects.filter(user=user, bot=bot)
        limit = plan.max_conversations_per_bot
        if limit is not None and per_bot.count() >= limit:
            oldest = per_bot.order_by("created_at", "id").first()
            if not confirm_delete:
                raise ConversationConfirmationRequired(
                    f"You have reached the limit of {limit} conversations for this bot. "
                    f"Creating a new one deletes '{oldest.title}'. Send confirm_delete: true to go ahead.",
                    extra={
                        "requires_confirmation": True,
                        "oldest_conversation": {"id": str(oldest.pk), "title": oldest.title},
                    },
                )
            # Evict as many as needed (a plan may have been lowered since).
            surplus = per_bot.count() - limit + 1
            evict = list(per_bot.order_by("created_at", "id").values_list("pk", flat=True)[:surplus])
            Conversation.objects.filter(pk__in=evict).delete()
        # After the per-bot rule: evicting this bot's oldest conversation may free a place.
        active = Conversation.objects.filter(user=user, archived=False)
        if plan.max_active_conversations is not None and active.count() >= plan.max_active_conversations:
            raise ConversationLimitReached(
                f"You have {plan.max_active_conversations} active conversations, the most your plan allows. "
                "Archive or delete one first."
            )
        return Conversation.objects.create(
            user=user, bot=bot, title=(title or "New conversation")[:TITLE_MAX]
        )


def conversation_get(*, user: User, conversation_id) -> Conversation:
    conversation = Conversation.objects.select_related("bot").filter(pk=conversation_id, user=user).first()
    if conversation is None:
        raise NotFound("Conversation not found.")
    return conversation


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    conversation.title = title[:TITLE_MAX]
    conversation.save(update_fields=["title", "updated_at"])
    return conversation


def conversation_set_archived(*, conversation: Conversation, archived: bool) -> Conversation:
    if conversation.archived != archived:
        conversation.archived = archived
        conversation.archived_at = timezone.now() if archived else None
        conversation.save(update_fields=["archived", "archived_at", "updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()

"""Row-level lists for staff: runs, and every user's conversations."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import OuterRef, QuerySet, Subquery

from accounts.models import User
from analytics.periods import day_start
from bots.errors import StaffOnly
from bots.models import Bot
from bytchat.errors import NotFound
from chat.models import ApiKey, Conversation, Feedback, Run

# --- Runs -------------------------------------------------------------------------------


def run_list(
    *,
    status: str | None = None,
    user: User | None = None,
    bot: Bot | None = None,
    model: str | None = None,
    provider: str | None = None,
    channel: str | None = None,
    api_key: ApiKey | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Run]:
    """Runs, newest first, with the asker's feedback on each answer. Each filter has an
    index that leads with it: (status|user|bot|model|channel|api_key, created_at), or
    created_at."""
    runs = Run.objects.select_related("user", "bot")
    if status:
        runs = runs.filter(status=status)
    if user is not None:
        runs = runs.filter(user=user)
    if bot is not None:
        runs = runs.filter(bot=bot)
    if model:
        runs = runs.filter(model=model)
    if provider:
        runs = runs.filter(provider=provider)
    if channel is not None:
        runs = runs.filter(channel=channel)
    if api_key is not None:
        runs = runs.filter(api_key=api_key)
    if date_from is not None:
        runs = runs.filter(created_at__gte=day_start(date_from))
    if date_to is not None:
        runs = runs.filter(created_at__lt=day_start(date_to + timedelta(days=1)))
    feedback = Feedback.objects.filter(message_id=OuterRef("message_id"), user_id=OuterRef("user_id"))
    return runs.annotate(
        feedback_rating=Subquery(feedback.values("rating")[:1]),
        feedback_comment=Subquery(feedback.values("comment")[:1]),
    )


# --- Conversations (admins) -------------------------------------------------------------


def _check_admin(actor: User) -> None:
    """Every user's conversations are for administrators alone, whichever surface asks."""
    if not actor.is_admin:
        raise StaffOnly("Only administrators can see every user's conversations.")


def conversation_list_all(
    *, actor: User, user: User | None = None, bot: Bot | None = None, archived: bool | None = None
) -> QuerySet[Conversation]:
    """Every user's conversations, for an admin `actor`; message counts are the
    conversation's own counter, kept by the chat engine."""
    _check_admin(actor)
    conversations = Conversation.objects.select_related("user", "bot")
    if user is not None:
        conversations = conversations.filter(user=user)
    if bot is not None:
        conversations = conversations.filter(bot=bot)
    if archived is not None:
        conversations = conversations.filter(archived=archived)
    return conversations


def conversation_get_any(*, actor: User, conversation_id) -> Conversation:
    """Any user's conversation, for an admin `actor`."""
    _check_admin(actor)
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound("Conversation not found.")
    return conversation

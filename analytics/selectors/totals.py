"""Every user and every active bot with the number of conversations they have now: the
all-time lists of an admin dashboard (the rankings in `rankings` cover a period and only
those with activity in it). One query each."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from accounts.models import User
from bots.models import Bot


def user_conversation_totals() -> QuerySet[User]:
    """Every user, newest first, annotated with `conversation_count`."""
    return (
        User.objects.select_related("plan")
        .annotate(conversation_count=Count("conversations", distinct=True))
        .order_by("-created_at", "-id")
    )


def bot_conversation_totals() -> QuerySet[Bot]:
    """Every active bot, the most talked-to first, annotated with `conversation_count`."""
    return (
        Bot.objects.filter(is_active=True)
        .select_related("category")
        .prefetch_related("model_configs")
        .annotate(conversation_count=Count("conversations", distinct=True))
        .order_by("-conversation_count", "-created_at", "-id")
    )

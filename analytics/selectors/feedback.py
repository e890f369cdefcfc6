"""What the ratings say, per bot: counts and the words of thumbs-down comments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from analytics import figures
from analytics.models import DailyActivity
from analytics.periods import Period, day_start
from analytics.selectors.common import BotRef, first_live_day, ratio, rolled_sums, unprefixed
from analytics.words import top_words
from bots.models import Bot
from chat.models import Feedback, Rating

# Thumbs-down comments read per bot for its words: a quiet bot is never crowded out by a
# busy one, and the work stays bounded.
FEEDBACK_SAMPLE_PER_BOT = 1000
RECENT_COMMENTS = 5
TOP_WORDS = 10


# --- Feedback ---------------------------------------------------------------------------


@dataclass
class FeedbackComment:
    message_id: Any
    conversation_id: Any
    user_email: str | None
    comment: str
    created_at: datetime


@dataclass
class FeedbackGroup(BotRef):
    thumbs_up: int = 0
    thumbs_down: int = 0
    satisfaction: float | None = None
    comments: int = 0
    comments_analyzed: int = 0
    top_words: list[dict[str, Any]] = field(default_factory=list)
    recent_comments: list[FeedbackComment] = field(default_factory=list)


def feedback_summary(*, period: Period, bot: Bot | None = None, language: str = "es") -> list[FeedbackGroup]:
    """Ratings per bot, and what the thumbs-down comments say: their most frequent words.

    Counts are exact and summed in SQL (rollups for closed days, live for the rest). The
    words are counted in Python over each bot's most recent FEEDBACK_SAMPLE_PER_BOT
    thumbs-down comments of the period (a window function picks them in SQL): tokenising with two languages' stop words is more than portable SQL
    does, and the sample bounds the work; `comments_analyzed` says how many of a bot's
    comments it held. Five queries.
    """
    live_from = first_live_day(period)
    bot_filter = {"bot_id": bot.pk} if bot is not None else {}
    rolled = (
        DailyActivity.objects.filter(day__gte=period.start, day__lt=live_from, **bot_filter)
        .values("bot_id")
        .annotate(**rolled_sums("thumbs_up", "thumbs_down", "thumbs_down_comments"))
        .order_by()
    )
    counts: dict[Any, figures.Totals] = {}
    for row in rolled:
        figures.add_totals(counts.setdefault(row["bot_id"], figures.empty_totals()), unprefixed(row))
    for bot_id, row in figures.feedback_totals(since=day_start(live_from), by=["bot"]).items():
        if bot is None or bot_id == bot.pk:
            figures.add_totals(counts.setdefault(bot_id, figures.empty_totals()), row)
    rated = {key: values for key, values in counts.items() if values["thumbs_up"] + values["thumbs_down"]}

    comments = Feedback.objects.filter(rating=Rating.THUMBS_DOWN, created_at__gte=period.start_at).exclude(
        comment=""
    )
    if bot is not None:
        comments = comments.filter(message__conversation__bot=bot)
    newest_first = [F("created_at").desc(), F("pk").desc()]
    sample = (
        comments.annotate(
            nth_of_bot=Window(
                RowNumber(), partition_by=F("message__conversation__bot_id"), order_by=newest_first
            )
        )
        .filter(nth_of_bot__lte=FEEDBACK_SAMPLE_PER_BOT)
        .order_by(*newest_first)
        .values(
            "message_id",
            "comment",
            "created_at",
            bot_id=F("message__conversation__bot_id"),
            conversation_id=F("message__conversation_id"),
            user_email=F("user__email"),
        )
    )
    comments_by_bot: dict[Any, list[dict[str, Any]]] = {}
    for row in sample:
        comments_by_bot.setdefault(row["bot_id"], []).append(row)
    bots = {item.pk: item for item in Bot.objects.filter(pk__in=list(rated))}

    ranked = sorted(
        # The most thumbs down first; of equals, the one with fewer thumbs up.
        rated.items(),
        key=lambda item: (-item[1]["thumbs_down"], item[1]["thumbs_up"], str(item[0])),
    )
    groups = []
    for bot_id, values in ranked:
        if bot_id not in bots:
            continue
        found = bots[bot_id]
        bot_comments = comments_by_bot.get(bot_id, [])
        groups.append(
            FeedbackGroup(
                id=found.pk,
                name=found.name_for(language),
                name_es=found.name_es,
                name_en=found.name_en,
                thumbs_up=values["thumbs_up"],
                thumbs_down=values["thumbs_down"],
                satisfaction=ratio(values["thumbs_up"], values["thumbs_up"] + values["thumbs_down"]),
                comments=values["thumbs_down_comments"],
                comments_analyzed=len(bot_comments),
                top_words=[
                    {"word": word, "count": count}
                    for word, count in top_words((c["comment"] for c in bot_comments), limit=TOP_WORDS)
                ],
                recent_comments=[
                    FeedbackComment(
                        message_id=c["message_id"],
                        conversation_id=c["conversation_id"],
                        user_email=c["user_email"],
                        comment=c["comment"],
                        created_at=c["created_at"],
                    )
                    for c in bot_comments[:RECENT_COMMENTS]
                ],
            )
        )
    return groups

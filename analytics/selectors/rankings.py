"""Per-bot and per-user figures of a period, the busiest first."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Exists, F, OuterRef

from accounts.models import User
from analytics import figures
from analytics.models import DailyActivity
from analytics.percentiles import grouped_percentiles
from analytics.periods import Period, day_start
from analytics.selectors.common import BotRef, first_live_day, period_sums, ratio, rounded
from bots.models import Bot

# --- Bots -------------------------------------------------------------------------------


@dataclass
class BotStats(BotRef):
    is_active: bool = True
    runs: int = 0
    conversations: int = 0
    messages: int = 0
    users: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tokens: int = 0
    errors: int = 0
    error_rate: float | None = None
    thumbs_up: int = 0
    thumbs_down: int = 0
    satisfaction: float | None = None
    latency_p95_ms: float | None = None


def _distinct_users_per_bot(period: Period, live_from: date, bot_ids: list) -> dict[Any, int]:
    """Distinct users per bot over the period, in two queries: those of the rolled days,
    plus the live ones not already seen on a rolled day (an anti-join)."""
    rolled_pairs = DailyActivity.objects.filter(day__gte=period.start, day__lt=live_from, bot_id__in=bot_ids)
    counts = Counter(
        dict(
            rolled_pairs.order_by()
            .values("bot_id")
            .annotate(users=Count("user_id", distinct=True))
            .values_list("bot_id", "users")
        )
    )
    seen = rolled_pairs.filter(bot_id=OuterRef("bot_id"), user_id=OuterRef("user_id"))
    new_users = (
        figures.run_queryset(day_start(live_from))
        .filter(bot_id__in=bot_ids, user__isnull=False)
        .exclude(Exists(seen))
        .order_by()
        .values("bot_id")
        .annotate(users=Count("user_id", distinct=True))
        .values_list("bot_id", "users")
    )
    counts.update(dict(new_users))
    return counts


def bot_stats(*, period: Period, language: str = "es", limit: int = 50) -> list[BotStats]:
    """The most used bots of the period (by runs), with their figures. Ten queries."""
    live_from = first_live_day(period)
    sums = period_sums(period, live_from, "bot")
    ranked = sorted(
        sums.items(),
        key=lambda item: (-item[1]["runs"], -item[1]["conversations"], -item[1]["messages"], str(item[0])),
    )[:limit]
    bot_ids = [bot_id for bot_id, _ in ranked]
    users = _distinct_users_per_bot(period, live_from, bot_ids)
    # Percentiles do not add up across days: p95 is exact, over the period's runs.
    latency = grouped_percentiles(
        figures.run_queryset(period.start_at).filter(bot_id__in=bot_ids),
        field="latency_ms",
        fractions=[0.95],
        group_by={"group_bot": F("bot_id")},
    )
    bots = {bot.pk: bot for bot in Bot.objects.filter(pk__in=bot_ids)}

    results = []
    for bot_id, values in ranked:
        bot = bots.get(bot_id)
        if bot is None:  # deleted between the queries
            continue
        tokens = values["input_tokens"] + values["output_tokens"]
        rated = values["thumbs_up"] + values["thumbs_down"]
        results.append(
            BotStats(
                id=bot.pk,
                name=bot.name_for(language),
                name_es=bot.name_es,
                name_en=bot.name_en,
                is_active=bot.is_active,
                runs=values["runs"],
                conversations=values["conversations"],
                messages=values["messages"],
                users=users.get(bot_id, 0),
                input_tokens=values["input_tokens"],
                output_tokens=values["output_tokens"],
                tokens=tokens,
                errors=values["errors"],
                error_rate=ratio(values["errors"], values["runs"]),
                thumbs_up=values["thumbs_up"],
                thumbs_down=values["thumbs_down"],
                satisfaction=ratio(values["thumbs_up"], rated),
                latency_p95_ms=rounded(latency.get(bot_id, {}).get(0.95)),
            )
        )
    return results


# --- Users ------------------------------------------------------------------------------


@dataclass
class UserStats:
    id: Any
    email: str
    full_name: str
    role: str
    status: str
    runs: int
    input_tokens: int
    output_tokens: int
    tokens: int
    conversations: int
    messages: int
    last_activity: datetime | None


def user_stats(*, period: Period, limit: int = 50) -> list[UserStats]:
    """The users who spent the most tokens in the period. Seven queries."""
    live_from = first_live_day(period)
    sums = period_sums(period, live_from, "user")
    ranked = sorted(
        sums.items(),
        key=lambda item: (
            -(item[1]["input_tokens"] + item[1]["output_tokens"]),
            -item[1]["runs"],
            -item[1]["messages"],
            str(item[0]),
        ),
    )[:limit]
    users = {user.pk: user for user in User.objects.filter(pk__in=[user_id for user_id, _ in ranked])}
    results = []
    for user_id, values in ranked:
        user = users.get(user_id)
        if user is None:  # deleted between the queries
            continue
        results.append(
            UserStats(
                id=user.pk,
                email=user.email,
                full_name=user.full_name,
                role=user.role,
                status=user.status,
                runs=values["runs"],
                input_tokens=values["input_tokens"],
                output_tokens=values["output_tokens"],
                tokens=values["input_tokens"] + values["output_tokens"],
                conversations=values["conversations"],
                messages=values["messages"],
                last_activity=values["last_run_at"],
            )
        )
    return results

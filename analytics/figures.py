"""Figures computed from the raw tables for a span of time, grouped by day, bot or user.

The rollup service stores them for closed days; the selectors compute them live for the
days not rolled up yet (today, at least). Both call these functions, so a figure means the
same whichever way it was obtained. Every function is a constant number of grouped
queries, whatever the number of rows.

Definitions: a run counts on the day it was stored; errors are runs with status error;
conversations are those created in the span; messages are chat messages (questions and
answers) created in the span; thumbs up/down are ratings given in the span; satisfaction
is thumbs up over rated answers. A day's runs, messages and ratings go to the
conversation's bot and user.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from django.db.models import Count, F, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from analytics.models import LatencyMetric
from analytics.percentiles import bucket_expression, grouped_percentiles
from chat.models import Conversation, Feedback, Message, Rating, Run, RunStatus

SUMMED = (
    "runs",
    "errors",
    "incomplete",
    "input_tokens",
    "output_tokens",
    "conversations",
    "messages",
    "thumbs_up",
    "thumbs_down",
    "thumbs_down_comments",
)
GROUPINGS = ("day", "bot", "user", "channel", "api_key")
# How each grouping reads on each table; a rating belongs to its conversation's user.
_KEYS: dict[str, dict[str, Any]] = {
    # Only runs know their channel (the surface they came in through) and API key.
    "runs": {
        "day": TruncDate("created_at"),
        "bot": F("bot_id"),
        "user": F("user_id"),
        "channel": F("channel"),
        "api_key": F("api_key_id"),
    },
    "conversations": {"day": TruncDate("created_at"), "bot": F("bot_id"), "user": F("user_id")},
    "messages": {
        "day": TruncDate("created_at"),
        "bot": F("conversation__bot_id"),
        "user": F("conversation__user_id"),
    },
    "feedback": {
        "day": TruncDate("created_at"),
        "bot": F("message__conversation__bot_id"),
        "user": F("message__conversation__user_id"),
    },
}
LATENCY_FIELDS = {LatencyMetric.LATENCY: "latency_ms", LatencyMetric.TTFT: "ttft_ms"}

Key = Any  # a day, a bot or user id, a tuple of them, or None when ungrouped
Totals = dict[str, int]


def empty_totals() -> Totals:
    return dict.fromkeys(SUMMED, 0)


def add_totals(into: Totals, more: Mapping[str, int | None]) -> Totals:
    for name in SUMMED:
        into[name] += more.get(name) or 0
    return into


def _span(queryset: QuerySet, since: datetime, until: datetime | None) -> QuerySet:
    queryset = queryset.filter(created_at__gte=since)
    return queryset.filter(created_at__lt=until) if until is not None else queryset


def _key(row: Mapping[str, Any], by: Sequence[str]) -> Key:
    if not by:
        return None
    if len(by) == 1:
        return row[by[0]]
    return tuple(row[name] for name in by)


def _grouped(
    queryset: QuerySet, table: str, by: Sequence[str], aggregates: dict[str, Any]
) -> dict[Key, dict]:
    for name in by:
        if name not in _KEYS[table]:
            raise ValueError(f"Unknown grouping {name!r} of {table}.")
    queryset = queryset.order_by()
    # Prefixed: an annotation may not take the name of a field (Run.input_tokens).
    prefixed = {f"figure_{name}": aggregate for name, aggregate in aggregates.items()}

    def unprefixed(row: Mapping[str, Any]) -> dict[str, Any]:
        return {name.removeprefix("figure_"): value for name, value in row.items()}

    if not by:
        return {None: unprefixed(queryset.aggregate(**prefixed))}
    keys = {f"group_{name}": _KEYS[table][name] for name in by}
    rows = queryset.values(**keys).annotate(**prefixed)
    return {_key(row, list(keys)): unprefixed(row) for row in rows}


def run_queryset(since: datetime, until: datetime | None = None, channel: str | None = None) -> QuerySet[Run]:
    runs = _span(Run.objects.all(), since, until)
    return runs if channel is None else runs.filter(channel=channel)


def _run_totals(
    since: datetime,
    until: datetime | None,
    by: Sequence[str],
    *,
    active_users: bool,
    last_run: bool,
    channel: str | None = None,
) -> dict[Key, dict]:
    aggregates: dict[str, Any] = {
        "runs": Count("pk"),
        "errors": Count("pk", filter=Q(status=RunStatus.ERROR)),
        "incomplete": Count("pk", filter=Q(status=RunStatus.INCOMPLETE)),
        "input_tokens": Coalesce(Sum("input_tokens"), 0),
        "output_tokens": Coalesce(Sum("output_tokens"), 0),
    }
    if active_users:
        aggregates["active_users"] = Count("user_id", distinct=True)
    if last_run:
        aggregates["last_run_at"] = Max("created_at")
    return _grouped(run_queryset(since, until, channel), "runs", by, aggregates)


RUN_SUMMED = ("runs", "errors", "incomplete", "input_tokens", "output_tokens")


def run_totals(
    *, since: datetime, until: datetime | None = None, by: Sequence[str] = (), channel: str | None = None
) -> dict[Key, dict]:
    """The run figures of the span (runs, errors, incomplete, tokens, active users, last
    run), grouped by ``by`` (which may also be ``channel`` or ``api_key``, that only runs
    carry), optionally of one channel: one query. The same aggregates as `totals`."""
    return _run_totals(since, until, by, active_users=True, last_run=True, channel=channel)


def _conversation_totals(since: datetime, until: datetime | None, by: Sequence[str]) -> dict[Key, dict]:
    conversations = _span(Conversation.objects.all(), since, until)
    return _grouped(conversations, "conversations", by, {"conversations": Count("pk")})


def _message_totals(since: datetime, until: datetime | None, by: Sequence[str]) -> dict[Key, dict]:
    # A message is always followed by its conversation's last_message_at moving forward
    # (the chat engine sets it with each question and answer), so the conversations
    # touched since `since` are the only ones to look in: they are few, and
    # (conversation, created_at) is indexed where created_at alone is not.
    messages = _span(Message.objects.filter(conversation__last_message_at__gte=since), since, until)
    return _grouped(messages, "messages", by, {"messages": Count("pk")})


def feedback_totals(
    *, since: datetime, until: datetime | None = None, by: Sequence[str] = ()
) -> dict[Key, dict]:
    """Ratings given in the span: one query."""
    # Naming both ratings lets the (rating, created_at) index serve the span.
    feedback = _span(Feedback.objects.filter(rating__in=Rating.values), since, until)
    aggregates = {
        "thumbs_up": Count("pk", filter=Q(rating=Rating.THUMBS_UP)),
        "thumbs_down": Count("pk", filter=Q(rating=Rating.THUMBS_DOWN)),
        "thumbs_down_comments": Count("pk", filter=Q(rating=Rating.THUMBS_DOWN) & ~Q(comment="")),
    }
    return _grouped(feedback, "feedback", by, aggregates)


def totals(
    *,
    since: datetime,
    until: datetime | None = None,
    by: Sequence[str] = (),
    active_users: bool = False,
    last_run: bool = False,
) -> dict[Key, Totals]:
    """The summable figures of the span, grouped by ``by``: four queries. With
    ``active_users``, also the number of distinct users with a run in each group; with
    ``last_run``, the time of the group's latest run (None without runs)."""
    extra: dict[str, Any] = {}
    if active_users:
        extra["active_users"] = 0
    if last_run:
        extra["last_run_at"] = None
    sources = (
        _run_totals(since, until, by, active_users=active_users, last_run=last_run),
        _conversation_totals(since, until, by),
        _message_totals(since, until, by),
        feedback_totals(since=since, until=until, by=by),
    )
    result: dict[Key, Totals] = {}
    for source in sources:
        for key, row in source.items():
            entry = result.setdefault(key, {**empty_totals(), **extra})
            add_totals(entry, row)
            for name in extra:
                if row.get(name) is not None:
                    entry[name] = row[name]
    return result


def daily_percentiles(
    *, since: datetime, until: datetime | None = None
) -> dict[date, dict[str, float | None]]:
    """Exact latency p50/p95 and time-to-first-token p50 of each day of the span."""
    runs = run_queryset(since, until)
    day = {"group_day": TruncDate("created_at")}
    latency = grouped_percentiles(runs, field="latency_ms", fractions=[0.5, 0.95], group_by=day)
    ttft = grouped_percentiles(runs, field="ttft_ms", fractions=[0.5], group_by=day)
    result: dict[date, dict[str, float | None]] = {}
    for day_key in set(latency) | set(ttft):
        result[day_key] = {
            "latency_p50_ms": latency.get(day_key, {}).get(0.5),
            "latency_p95_ms": latency.get(day_key, {}).get(0.95),
            "ttft_p50_ms": ttft.get(day_key, {}).get(0.5),
        }
    return result


def latency_histograms(
    *, since: datetime, until: datetime | None = None, by_day: bool = False
) -> dict[tuple[date | None, str], Counter[int]]:
    """Bucket counts of latency and time to first token, per (day or None, metric): one
    query (a UNION ALL of the two metrics)."""
    parts = []
    for metric, field in LATENCY_FIELDS.items():
        rows = (
            run_queryset(since, until)
            .filter(**{f"{field}__isnull": False})
            .order_by()
            .annotate(metric=Value(metric.value), bucket=bucket_expression(field))
        )
        keys = (["day"] if by_day else []) + ["metric", "bucket"]
        if by_day:
            rows = rows.annotate(day=TruncDate("created_at"))
        parts.append(rows.values(*keys).annotate(total=Count("pk")))
    result: dict[tuple[date | None, str], Counter[int]] = {}
    for row in parts[0].union(parts[1], all=True):
        result.setdefault((row.get("day"), row["metric"]), Counter())[row["bucket"]] += row["total"]
    return result

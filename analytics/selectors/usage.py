"""Platform-wide figures of a period: the overview and the daily series."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, Sum

from accounts.models import User
from analytics import figures
from analytics.models import DailyActivity, DailyLatencyBucket, DailyStats, LatencyMetric
from analytics.percentiles import histogram_percentiles
from analytics.periods import Period, day_start
from analytics.selectors.common import BotRef, first_live_day, ratio, rolled_sums, rounded, unprefixed
from chat.models import Run

# --- Overview ---------------------------------------------------------------------------


@dataclass
class BotUsage(BotRef):
    runs: int = 0


@dataclass
class Overview:
    period: Period
    total_users: int
    active_users: int
    conversations: int
    messages: int
    runs: int
    input_tokens: int
    output_tokens: int
    tokens: int
    errors: int
    incomplete: int
    error_rate: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    ttft_p50_ms: float | None
    thumbs_up: int
    thumbs_down: int
    rated_answers: int
    satisfaction: float | None
    most_used_bot: BotUsage | None


def _period_histograms(period: Period, live_from: date) -> dict[str, Counter[int]]:
    rolled = (
        DailyLatencyBucket.objects.filter(day__gte=period.start, day__lt=live_from)
        .values("metric", "bucket")
        .annotate(total=Sum("runs"))
        .order_by()
    )
    merged: dict[str, Counter[int]] = {metric: Counter() for metric in LatencyMetric.values}
    for row in rolled:
        merged[row["metric"]][row["bucket"]] += row["total"]
    for (_, metric), counts in figures.latency_histograms(since=day_start(live_from)).items():
        merged[metric].update(counts)
    return merged


def _most_used_bot(period: Period, live_from: date, language: str) -> BotUsage | None:
    """One query: the rolled days' runs per bot and the live runs per bot, side by side."""
    names = ("bot_id", "bot__name_es", "bot__name_en")
    rolled = (
        DailyActivity.objects.filter(day__gte=period.start, day__lt=live_from)
        .values(*names)
        .annotate(total=Sum("runs"))
        .order_by()
    )
    live = (
        figures.run_queryset(day_start(live_from))
        .filter(bot__isnull=False)
        .values(*names)
        .annotate(total=Count("pk"))
        .order_by()
    )
    usage: Counter = Counter()
    labels: dict[Any, tuple[str, str]] = {}
    for row in rolled.union(live, all=True):
        usage[row["bot_id"]] += row["total"]
        labels[row["bot_id"]] = (row["bot__name_es"], row["bot__name_en"])
    if not usage:
        return None
    # Most runs first; ties go to the smallest id so that the answer is stable.
    bot_id, runs = min(usage.items(), key=lambda item: (-item[1], str(item[0])))
    ref = BotRef.from_values(bot_id, *labels[bot_id], language)
    return BotUsage(**ref.__dict__, runs=runs)


def overview(*, period: Period, language: str = "es") -> Overview:
    """Ten queries: rolled days, rolled sums, four live sums, users, two for the latency
    histograms (rolled and live), the most used bot."""
    live_from = first_live_day(period)
    sums = unprefixed(
        DailyStats.objects.filter(day__gte=period.start, day__lt=live_from).aggregate(
            **rolled_sums(*figures.SUMMED)
        )
    )
    live = figures.totals(since=day_start(live_from))[None]
    figures.add_totals(sums, live)
    users = User.objects.aggregate(
        total=Count("pk"),
        # Users with a run in the period: one probe of the (user, created_at) index per
        # user, rather than a distinct over every run of the period.
        active=Count(
            "pk", filter=Q(Exists(Run.objects.filter(user=OuterRef("pk"), created_at__gte=period.start_at)))
        ),
    )
    histograms = _period_histograms(period, live_from)
    latency = histogram_percentiles(histograms[LatencyMetric.LATENCY], [0.5, 0.95])
    ttft = histogram_percentiles(histograms[LatencyMetric.TTFT], [0.5])
    rated = sums["thumbs_up"] + sums["thumbs_down"]
    return Overview(
        period=period,
        total_users=users["total"],
        active_users=users["active"],
        conversations=sums["conversations"],
        messages=sums["messages"],
        runs=sums["runs"],
        input_tokens=sums["input_tokens"],
        output_tokens=sums["output_tokens"],
        tokens=sums["input_tokens"] + sums["output_tokens"],
        errors=sums["errors"],
        incomplete=sums["incomplete"],
        error_rate=ratio(sums["errors"], sums["runs"]),
        latency_p50_ms=rounded(latency[0.5]),
        latency_p95_ms=rounded(latency[0.95]),
        ttft_p50_ms=rounded(ttft[0.5]),
        thumbs_up=sums["thumbs_up"],
        thumbs_down=sums["thumbs_down"],
        rated_answers=rated,
        satisfaction=ratio(sums["thumbs_up"], rated),
        most_used_bot=_most_used_bot(period, live_from, language),
    )


# --- Daily series -----------------------------------------------------------------------


@dataclass
class DailyPoint:
    date: date
    runs: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tokens: int = 0
    errors: int = 0
    incomplete: int = 0
    active_users: int = 0
    conversations: int = 0
    messages: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    thumbs_down_comments: int = 0
    satisfaction: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    ttft_p50_ms: float | None = None

    def finish(self) -> DailyPoint:
        self.tokens = self.input_tokens + self.output_tokens
        self.satisfaction = ratio(self.thumbs_up, self.thumbs_up + self.thumbs_down)
        for name in ("latency_p50_ms", "latency_p95_ms", "ttft_p50_ms"):
            setattr(self, name, rounded(getattr(self, name)))
        return self


_POINT_FIELDS = (*figures.SUMMED, "active_users", "latency_p50_ms", "latency_p95_ms", "ttft_p50_ms")


def daily_series(*, period: Period) -> list[DailyPoint]:
    """One point per day of the period, oldest first, days without activity as zeros.
    Seven queries: rolled days, four live sums, two for the percentiles."""
    rolled_rows = DailyStats.objects.filter(day__gte=period.start, day__lt=period.end).values(
        "day", *_POINT_FIELDS
    )
    by_day = {row["day"]: row for row in rolled_rows}
    live_from = next((day for day in period.dates() if day not in by_day), period.end)
    live_since = day_start(live_from)
    live = figures.totals(since=live_since, by=["day"], active_users=True)
    live_percentiles = figures.daily_percentiles(since=live_since)
    points = []
    for day in period.dates():
        live_values = {**live.get(day, {}), **live_percentiles.get(day, {})}
        values = by_day[day] if day < live_from else live_values
        point = DailyPoint(date=day, **{name: values[name] for name in _POINT_FIELDS if name in values})
        points.append(point.finish())
    return points

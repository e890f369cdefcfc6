"""Writes of the analytics app: the daily rollups."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from analytics import figures
from analytics.models import DailyActivity, DailyLatencyBucket, DailyStats
from analytics.periods import MAX_DAYS, day_start

logger = logging.getLogger(__name__)

RECENT_DAYS = 3


def _days_to_roll_up(*, today: date, recent_days: int, backfill_days: int) -> list[date]:
    """The closed days worth computing: the last `recent_days` (late feedback changes
    them) and every day of the backfill window without a rollup yet. The first pass is a
    backfill; later ones are cheap. Days without activity get their row of zeros too, so
    that the selectors know they need no live computation."""
    first_day = today - timedelta(days=backfill_days)
    done = set(DailyStats.objects.filter(day__gte=first_day, day__lt=today).values_list("day", flat=True))
    window = {first_day + timedelta(days=offset) for offset in range(backfill_days)}
    recent = {today - timedelta(days=offset) for offset in range(1, recent_days + 1)}
    return sorted((window - done) | recent)


def rollup_refresh(
    *, recent_days: int = RECENT_DAYS, backfill_days: int = MAX_DAYS, today: date | None = None
) -> list[date]:
    """Recompute the rollups of closed days; returns the days written.

    Idempotent: a day's rows are replaced as a whole, in one transaction, and written
    with upserts so that two overlapping runs cannot trip over each other.
    """
    today = today or timezone.localdate()
    days = _days_to_roll_up(today=today, recent_days=recent_days, backfill_days=backfill_days)
    if not days:
        return []
    since, until = day_start(days[0]), day_start(days[-1] + timedelta(days=1))
    wanted = set(days)

    per_day = figures.totals(since=since, until=until, by=["day"], active_users=True)
    activity = figures.totals(since=since, until=until, by=["day", "bot", "user"], last_run=True)
    percentiles = figures.daily_percentiles(since=since, until=until)
    histograms = figures.latency_histograms(since=since, until=until, by_day=True)
    now = timezone.now()

    day_rows = []
    for day in days:
        values = per_day.get(day, {})
        day_rows.append(
            DailyStats(
                day=day,
                computed_at=now,
                **{name: values.get(name, 0) for name in (*figures.SUMMED, "active_users")},
                **percentiles.get(day, {}),
            )
        )
    # Runs keep their figures when their user or bot is deleted; those count in the
    # day's totals only.
    activity_rows = [
        DailyActivity(
            day=day,
            bot_id=bot_id,
            user_id=user_id,
            last_run_at=values["last_run_at"],
            **{name: values[name] for name in figures.SUMMED},
        )
        for (day, bot_id, user_id), values in activity.items()
        if day in wanted and bot_id is not None and user_id is not None
    ]
    bucket_rows = [
        DailyLatencyBucket(day=day, metric=metric, bucket=bucket, runs=count)
        for (day, metric), counts in histograms.items()
        if day in wanted
        for bucket, count in counts.items()
    ]

    with transaction.atomic():
        DailyActivity.objects.filter(day__in=days).delete()
        DailyLatencyBucket.objects.filter(day__in=days).delete()
        DailyStats.objects.bulk_create(
            day_rows,
            update_conflicts=True,
            unique_fields=["day"],
            update_fields=[field.name for field in DailyStats._meta.concrete_fields if field.name != "day"],
        )
        DailyActivity.objects.bulk_create(
            activity_rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["day", "bot", "user"],
            update_fields=[*figures.SUMMED, "last_run_at"],
        )
        DailyLatencyBucket.objects.bulk_create(
            bucket_rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["day", "metric", "bucket"],
            update_fields=["runs"],
        )
    logger.info("Analytics rollups written for %d day(s), %s to %s", len(days), days[0], days[-1])
    return days

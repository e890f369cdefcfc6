"""Pieces the selectors share: a period's rolled and live parts, sums, bot labels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Max, Sum
from django.db.models.functions import Coalesce

from analytics import figures
from analytics.models import DailyActivity, DailyStats
from analytics.periods import Period, day_start
from bots.models import Bot


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass
class BotRef:
    id: Any
    name: str
    name_es: str
    name_en: str

    @classmethod
    def from_values(cls, bot_id: Any, name_es: str, name_en: str, language: str) -> BotRef:
        return cls(
            id=bot_id,
            name=Bot(name_es=name_es or "", name_en=name_en or "").name_for(language),
            name_es=name_es or "",
            name_en=name_en or "",
        )


def first_live_day(period: Period) -> date:
    """The first day of the period to compute live: today, or an earlier day that the
    rollups have not covered yet (every day after it is computed live too)."""
    rolled = set(
        DailyStats.objects.filter(day__gte=period.start, day__lt=period.end).values_list("day", flat=True)
    )
    for day in period.dates():
        if day not in rolled:
            return day
    return period.end


def rolled_sums(*names: str) -> dict[str, Any]:
    """Sums of rollup columns, under other names: an annotation may not reuse a field's."""
    return {f"sum_{name}": Coalesce(Sum(name), 0) for name in names}


def unprefixed(row: dict[str, Any]) -> dict[str, Any]:
    return {name.removeprefix("sum_"): value for name, value in row.items()}


def period_sums(period: Period, live_from: date, by: str, **filters: Any) -> dict[Any, dict[str, Any]]:
    """Summed figures per bot or per user over the period: the rolled days from the
    activity rollup, the rest live. Five queries."""
    rolled = (
        DailyActivity.objects.filter(day__gte=period.start, day__lt=live_from, **filters)
        .values(f"{by}_id")
        .annotate(**rolled_sums(*figures.SUMMED), last_run_at=Max("last_run_at"))
        .order_by()
    )
    sums: dict[Any, dict[str, Any]] = {}
    for row in rolled:
        entry = sums.setdefault(row[f"{by}_id"], {**figures.empty_totals(), "last_run_at": None})
        figures.add_totals(entry, unprefixed(row))
        entry["last_run_at"] = row["last_run_at"]
    live = figures.totals(since=day_start(live_from), by=[by], last_run=True)
    for key, values in live.items():
        if key is None:  # runs whose bot or user was deleted
            continue
        entry = sums.setdefault(key, {**figures.empty_totals(), "last_run_at": None})
        figures.add_totals(entry, values)
        if values["last_run_at"] is not None:
            entry["last_run_at"] = values["last_run_at"]  # live days are the latest
    return sums

"""Reporting periods: whole days in the current time zone, the last of them today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

DEFAULT_DAYS = 30
MAX_DAYS = 365


def day_start(day: date) -> datetime:
    """The first instant of ``day`` in the current time zone."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


@dataclass(frozen=True)
class Period:
    """The last ``days`` days, today included: ``days=1`` is today so far."""

    days: int
    start: date
    end: date

    @classmethod
    def last(cls, days: int = DEFAULT_DAYS, *, today: date | None = None) -> Period:
        end = today or timezone.localdate()
        return cls(days=days, start=end - timedelta(days=days - 1), end=end)

    @property
    def start_at(self) -> datetime:
        return day_start(self.start)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range(self.days)]

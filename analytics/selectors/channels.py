"""Usage split by channel (the surface a run came in through) and by API key.

Computed live from the runs with `analytics.figures.run_totals`, the same aggregates as
every other run figure; the daily rollups are not split by channel, so these read the
(channel, created_at) and (api_key, created_at) indexes of the period's runs instead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from analytics import figures
from analytics.periods import Period
from chat.models import ApiKey, Channel


@dataclass
class ChannelStats:
    channel: str
    label: str
    runs: int
    errors: int
    incomplete: int
    input_tokens: int
    output_tokens: int
    active_users: int
    last_run_at: datetime | None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class ApiKeyStats:
    key_id: str
    name: str
    prefix: str
    user_id: str
    user_email: str
    active: bool
    last_used_at: datetime | None
    runs: int
    errors: int
    incomplete: int
    input_tokens: int
    output_tokens: int
    last_run_at: datetime | None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def _numbers(row: dict) -> dict:
    return {name: row.get(name) or 0 for name in figures.RUN_SUMMED}


def channel_stats(*, period: Period, channel: str | None = None) -> list[ChannelStats]:
    """Each channel's runs and tokens in the period, busiest first: one query."""
    rows = figures.run_totals(since=period.start_at, by=["channel"], channel=channel)
    labels = dict(Channel.choices)
    stats = [
        ChannelStats(
            channel=key,
            label=str(labels.get(key, key)),
            active_users=row.get("active_users") or 0,
            last_run_at=row.get("last_run_at"),
            **_numbers(row),
        )
        for key, row in rows.items()
        if row.get("runs")
    ]
    return sorted(stats, key=lambda item: (-item.runs, item.channel))


def api_key_stats(*, period: Period, limit: int = 50) -> list[ApiKeyStats]:
    """The API keys with runs in the period, busiest first (up to `limit`): two queries."""
    rows = figures.run_totals(since=period.start_at, by=["api_key"], channel=Channel.OPENAI)
    rows.pop(None, None)
    busiest = sorted(rows.items(), key=lambda item: (-(item[1].get("runs") or 0), str(item[0])))[:limit]
    keys = ApiKey.objects.select_related("user").in_bulk([key for key, _ in busiest])
    stats = []
    for key_id, row in busiest:
        key = keys.get(key_id)
        if key is None:  # pragma: no cover - deleted with its user between the two queries
            continue
        stats.append(
            ApiKeyStats(
                key_id=str(key.pk),
                name=key.name,
                prefix=key.masked,
                user_id=str(key.user_id),
                user_email=key.user.email,
                active=key.is_active,
                last_used_at=key.last_used_at,
                last_run_at=row.get("last_run_at"),
                **_numbers(row),
            )
        )
    return stats

"""Daily rollups: written for closed days by the beat task, idempotent, and invisible in
the figures (which read the same with or without them, today included)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.tests.factories import make_user
from analytics.models import DailyActivity, DailyLatencyBucket, DailyStats
from analytics.services import rollup_refresh
from analytics.tasks import refresh_daily_rollups
from analytics.tests.factories import at_days_ago, earlier_today, make_conversation, make_exchange, populate
from bots.tests.factories import make_bot

pytestmark = pytest.mark.django_db

BASE = "/api/v1/analytics/"
FIGURES = [
    "overview?days=30",
    "overview?days=3",
    "daily?days=14",
    "bots?days=30",
    "users?days=30",
    "feedback?days=30",
]


@pytest.fixture
def activity(user, other_user):
    bots = [make_bot(owner=user), make_bot(owner=other_user)]
    return populate(users=[user, other_user, make_user()], bots=bots, days=10, conversations_per_day=2)


def _snapshot(client) -> dict:
    return {url: client.get(BASE + url).json() for url in FIGURES}


def test_figures_are_the_same_with_or_without_rollups(admin_client_api, activity):
    live = _snapshot(admin_client_api)
    rollup_refresh()
    assert (
        DailyStats.objects.exists() and DailyActivity.objects.exists() and DailyLatencyBucket.objects.exists()
    )
    assert _snapshot(admin_client_api) == live


def test_a_day_missing_from_the_rollups_is_computed_live(admin_client_api, activity):
    live = _snapshot(admin_client_api)
    rollup_refresh()
    DailyStats.objects.filter(day=timezone.localdate() - timedelta(days=5)).delete()
    assert _snapshot(admin_client_api) == live


def test_every_closed_day_of_the_window_gets_a_row_and_today_none(activity):
    days = rollup_refresh(backfill_days=20)
    today = timezone.localdate()
    assert days == [today - timedelta(days=offset) for offset in range(20, 0, -1)]
    assert DailyStats.objects.count() == 20
    assert not DailyStats.objects.filter(day=today).exists()
    quiet = DailyStats.objects.get(day=today - timedelta(days=15))
    assert (quiet.runs, quiet.messages, quiet.latency_p95_ms) == (0, 0, None)
    busy = DailyStats.objects.get(day=today - timedelta(days=1))
    assert busy.runs == 4 and busy.active_users == 2 and busy.latency_p95_ms is not None


def test_it_is_idempotent(activity):
    rollup_refresh()
    first = list(DailyStats.objects.values())
    activity_rows = DailyActivity.objects.count()
    buckets = DailyLatencyBucket.objects.count()
    rollup_refresh()
    rollup_refresh(recent_days=30)
    second = list(DailyStats.objects.values())
    for row in first + second:
        row.pop("computed_at")
    assert second == first
    assert (DailyActivity.objects.count(), DailyLatencyBucket.objects.count()) == (activity_rows, buckets)


def test_later_passes_recompute_only_recent_days(user):
    bot = make_bot(owner=user)
    conversation = make_conversation(user=user, bot=bot, at=at_days_ago(8))
    rollup_refresh()
    make_exchange(conversation=conversation, at=at_days_ago(2))
    make_exchange(conversation=conversation, at=at_days_ago(8))  # arrives late, e.g. imported
    rollup_refresh(recent_days=3)
    today = timezone.localdate()
    assert DailyStats.objects.get(day=today - timedelta(days=2)).runs == 1
    assert DailyStats.objects.get(day=today - timedelta(days=8)).runs == 0
    rollup_refresh(recent_days=10)  # what `manage.py analytics_rollup --recent-days 10` does
    assert DailyStats.objects.get(day=today - timedelta(days=8)).runs == 1


def test_todays_runs_always_count_live(admin_client_api, user):
    bot = make_bot(owner=user)
    conversation = make_conversation(user=user, bot=bot)
    rollup_refresh()
    make_exchange(conversation=conversation, at=earlier_today())
    assert admin_client_api.get(BASE + "overview?days=1").json()["runs"] == 1
    assert admin_client_api.get(BASE + "daily?days=2").json()["results"][-1]["runs"] == 1


def test_the_beat_task_refreshes_the_rollups(activity):
    assert refresh_daily_rollups.delay().get() == 365
    assert refresh_daily_rollups.delay().get() == 3
    assert DailyStats.objects.count() == 365


def test_the_command_reports_what_it_did(activity, capsys):
    call_command("analytics_rollup", "--backfill-days", "5")
    assert "Rolled up 5 day(s)" in capsys.readouterr().out


def test_a_deleted_bot_leaves_the_days_totals_alone(admin_client_api, user, other_user):
    doomed = make_bot(owner=user)
    conversation = make_conversation(user=other_user, bot=doomed, at=at_days_ago(1))
    make_exchange(conversation=conversation, at=at_days_ago(1))
    doomed.delete()  # the conversation goes with it; the run stays, detached
    rollup_refresh()
    day = DailyStats.objects.get(day=timezone.localdate() - timedelta(days=1))
    assert (day.runs, day.conversations) == (1, 0)
    assert not DailyActivity.objects.exists()
    body = admin_client_api.get(BASE + "overview?days=7").json()
    assert body["runs"] == 1 and body["most_used_bot"] is None

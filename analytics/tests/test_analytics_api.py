"""The analytics API as staff see it: figures, filters, permissions and bad input."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import make_user
from accounts.tests.test_auth_api import assert_error
from analytics.services import rollup_refresh
from analytics.tests.factories import at_days_ago, earlier_today, make_conversation, make_exchange, rate
from bots.tests.factories import make_bot
from chat.models import Conversation, Feedback, Message, Run

pytestmark = pytest.mark.django_db

BASE = "/api/v1/analytics/"
READ_ENDPOINTS = ["overview", "daily", "bots", "users", "runs", "feedback"]


@pytest.fixture
def scene(user, other_user):
    """Two bots; alice asks the first three times today (one error) and the second once
    two days ago; bob asks the second once, 40 days ago (outside the default period)."""
    helper = make_bot(owner=user, name_es="Ayudante", name_en="Helper")
    writer = make_bot(owner=user, name_es="Redactor", name_en="Writer")
    today = make_conversation(user=user, bot=helper, at=earlier_today(minutes=30))
    fast = make_exchange(conversation=today, at=earlier_today(minutes=30), latency_ms=100, ttft_ms=40)
    slow = make_exchange(conversation=today, at=earlier_today(minutes=20), latency_ms=300, ttft_ms=60)
    failed = make_exchange(conversation=today, at=earlier_today(minutes=10), latency_ms=2000, status="error")
    earlier = make_conversation(user=user, bot=writer, at=at_days_ago(2))
    older = make_exchange(
        conversation=earlier, at=at_days_ago(2), latency_ms=500, ttft_ms=80, input_tokens=10
    )
    ancient_conversation = make_conversation(user=other_user, bot=writer, at=at_days_ago(40))
    ancient = make_exchange(conversation=ancient_conversation, at=at_days_ago(40), latency_ms=9000)
    rate(fast, "thumbs_up", at=earlier_today(minutes=5))
    rate(slow, "thumbs_down", "Muy lenta y la información es incorrecta", at=earlier_today(minutes=5))
    rate(older, "thumbs_down", "Wrong and slow, the information is outdated", at=at_days_ago(2))
    return {
        "helper": helper,
        "writer": writer,
        "fast": fast,
        "slow": slow,
        "failed": failed,
        "older": older,
        "ancient": ancient,
        "today": today,
    }


@pytest.fixture(params=["live", "rolled up"])
def rolled_up(request, scene):
    """Figures must not change when the closed days come from the rollups."""
    if request.param == "rolled up":
        rollup_refresh()
    return request.param


class TestPermissions:
    @pytest.mark.parametrize("endpoint", READ_ENDPOINTS)
    def test_staff_read_every_figure(self, endpoint, manager_client, admin_client_api):
        assert manager_client.get(BASE + endpoint).status_code == 200
        assert admin_client_api.get(BASE + endpoint).status_code == 200

    @pytest.mark.parametrize("endpoint", [*READ_ENDPOINTS, "conversations"])
    def test_plain_users_are_refused(self, endpoint, user_client):
        assert_error(user_client.get(BASE + endpoint), 403, "FORBIDDEN")

    @pytest.mark.parametrize("endpoint", [*READ_ENDPOINTS, "conversations"])
    def test_anonymous_callers_must_log_in(self, endpoint, api_client):
        assert_error(api_client.get(BASE + endpoint), 401, "UNAUTHORIZED")

    def test_only_admins_list_every_conversation(self, manager_client, admin_client_api, scene):
        assert_error(manager_client.get(BASE + "conversations"), 403, "FORBIDDEN")
        assert admin_client_api.get(BASE + "conversations").status_code == 200

    def test_managers_and_users_cannot_delete_a_conversation(self, manager_client, user_client, scene):
        url = f"{BASE}conversations/{scene['today'].pk}"
        assert_error(manager_client.delete(url), 403, "FORBIDDEN")
        assert_error(user_client.delete(url), 403, "FORBIDDEN")
        assert Conversation.objects.filter(pk=scene["today"].pk).exists()


class TestBadInput:
    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("overview?days=0", "days"),
            ("overview?days=366", "days"),
            ("overview?days=thirty", "days"),
            ("daily?days=-1", "days"),
            ("daily?days=1000", "days"),
            ("bots?days=0", "days"),
            ("bots?limit=0", "limit"),
            ("users?limit=101", "limit"),
            ("feedback?days=400", "days"),
            ("runs?status=exploded", "status"),
            ("runs?date_from=2025-13-01", "date_from"),
            ("runs?date_to=yesterday", "date_to"),
            ("runs?date_from=2025-02-01&date_to=2025-01-01", "date_to"),
            ("runs?bot=not-a-uuid", "bot"),
            (f"runs?bot={uuid.UUID(int=1)}", "bot"),
            (f"runs?user={uuid.UUID(int=2)}", "user"),
            (f"feedback?bot={uuid.UUID(int=3)}", "bot"),
            (f"conversations?bot={uuid.UUID(int=4)}", "bot"),
            (f"conversations?user={uuid.UUID(int=5)}", "user"),
        ],
    )
    def test_it_rejects_bad_parameters_in_the_envelope(self, admin_client_api, query, field):
        error = assert_error(admin_client_api.get(BASE + query), 400, "VALIDATION_ERROR")
        assert field in error["fields"]

    def test_deleting_an_unknown_conversation_is_not_found(self, admin_client_api):
        assert_error(admin_client_api.delete(f"{BASE}conversations/{uuid.uuid4()}"), 404, "NOT_FOUND")


class TestOverview:
    def test_it_sums_up_the_period(self, admin_client_api, rolled_up, scene, user):
        body = admin_client_api.get(BASE + "overview").json()
        today = timezone.localdate()
        assert body["period"] == {
            "days": 30,
            "start": (today - timedelta(days=29)).isoformat(),
            "end": today.isoformat(),
        }
        assert body["total_users"] == 3  # alice, bob and the admin: accounts, whatever the period
        assert body["active_users"] == 1  # only alice asked something in the last 30 days
        assert body["conversations"] == 2
        assert body["messages"] == 7  # four questions, three answers (the error has none)
        assert body["runs"] == 4
        assert (body["errors"], body["incomplete"], body["error_rate"]) == (1, 0, 0.25)
        assert body["input_tokens"] == 100 + 100 + 10
        assert body["tokens"] == body["input_tokens"] + body["output_tokens"]
        assert (body["thumbs_up"], body["thumbs_down"], body["rated_answers"]) == (1, 2, 3)
        assert body["satisfaction"] == pytest.approx(1 / 3, abs=1e-4)
        # percentile_cont of 100, 300, 500, 2000: 400 and 1775; from histograms, within 1 %.
        assert body["latency_p50_ms"] == pytest.approx(400, rel=0.01)
        assert body["latency_p95_ms"] == pytest.approx(1775, rel=0.01)
        assert body["ttft_p50_ms"] == pytest.approx(60, rel=0.01)
        assert body["most_used_bot"] == {
            "id": str(scene["helper"].pk),
            "name": "Ayudante",  # the admin reads in Spanish, the default language
            "name_es": "Ayudante",
            "name_en": "Helper",
            "runs": 3,
        }

    def test_a_one_day_period_is_today_so_far(self, admin_client_api, rolled_up):
        body = admin_client_api.get(BASE + "overview?days=1").json()
        assert (body["runs"], body["errors"], body["conversations"], body["messages"]) == (3, 1, 1, 5)

    def test_a_longer_period_reaches_further_back(self, admin_client_api, rolled_up):
        body = admin_client_api.get(BASE + "overview?days=60").json()
        assert (body["runs"], body["active_users"], body["conversations"]) == (5, 2, 3)
        assert body["most_used_bot"]["runs"] == 3

    def test_an_empty_platform_has_zeros_and_no_percentiles(self, admin_client_api):
        body = admin_client_api.get(BASE + "overview").json()
        assert body["runs"] == 0 and body["error_rate"] is None and body["satisfaction"] is None
        assert body["latency_p95_ms"] is None and body["most_used_bot"] is None

    def test_bot_names_follow_the_reader_language(self, client_for, scene):
        reader = make_user(email="reader@example.com", role="manager", language="en")
        body = client_for(reader).get(BASE + "overview").json()
        assert body["most_used_bot"]["name"] == "Helper"


class TestDaily:
    def test_every_day_of_the_period_is_there_oldest_first(self, admin_client_api, rolled_up):
        results = admin_client_api.get(BASE + "daily?days=7").json()["results"]
        today = timezone.localdate()
        assert [point["date"] for point in results] == [
            (today - timedelta(days=offset)).isoformat() for offset in range(6, -1, -1)
        ]
        quiet = results[0]
        assert quiet["runs"] == 0 and quiet["tokens"] == 0 and quiet["active_users"] == 0
        assert quiet["latency_p95_ms"] is None and quiet["satisfaction"] is None

    def test_each_day_has_its_own_figures_and_exact_percentiles(self, admin_client_api, rolled_up):
        results = admin_client_api.get(BASE + "daily?days=7").json()["results"]
        two_days_ago, today = results[-3], results[-1]
        assert (two_days_ago["runs"], two_days_ago["errors"], two_days_ago["active_users"]) == (1, 0, 1)
        assert (two_days_ago["thumbs_down"], two_days_ago["satisfaction"]) == (1, 0.0)
        assert two_days_ago["latency_p95_ms"] == 500.0
        assert (today["runs"], today["errors"], today["messages"], today["conversations"]) == (3, 1, 5, 1)
        # percentile_cont(0.95) of 100, 300, 2000 is 300 + 0.9 * 1700.
        assert today["latency_p95_ms"] == 1830.0
        assert today["latency_p50_ms"] == 300.0
        assert today["satisfaction"] == 0.5


class TestBots:
    def test_bots_are_ranked_by_runs_with_their_figures(self, admin_client_api, rolled_up, scene):
        results = admin_client_api.get(BASE + "bots").json()["results"]
        assert [row["id"] for row in results] == [str(scene["helper"].pk), str(scene["writer"].pk)]
        helper, writer = results
        assert (helper["runs"], helper["conversations"], helper["messages"], helper["users"]) == (3, 1, 5, 1)
        assert (helper["errors"], helper["error_rate"]) == (1, 0.3333)
        assert (helper["thumbs_up"], helper["thumbs_down"], helper["satisfaction"]) == (1, 1, 0.5)
        assert helper["latency_p95_ms"] == 1830.0
        assert (writer["runs"], writer["users"], writer["latency_p95_ms"]) == (1, 1, 500.0)
        assert writer["name"] == "Redactor" and writer["is_active"] is True

    def test_distinct_users_count_once_across_days(self, admin_client_api, scene, user, other_user):
        make_exchange(conversation=scene["today"], at=earlier_today(minutes=2))  # alice again, today
        later = make_conversation(user=other_user, bot=scene["helper"], at=at_days_ago(3))
        make_exchange(conversation=later, at=at_days_ago(3))
        rollup_refresh()
        helper = admin_client_api.get(BASE + "bots").json()["results"][0]
        assert helper["users"] == 2

    def test_limit_keeps_the_busiest(self, admin_client_api, rolled_up, scene):
        results = admin_client_api.get(BASE + "bots?limit=1").json()["results"]
        assert [row["id"] for row in results] == [str(scene["helper"].pk)]


class TestUsers:
    def test_users_are_ranked_by_tokens(self, admin_client_api, rolled_up, user, other_user):
        results = admin_client_api.get(BASE + "users?days=60").json()["results"]
        assert [row["email"] for row in results] == ["alice@example.com", "bob@example.com"]
        alice = results[0]
        assert (alice["runs"], alice["conversations"], alice["messages"]) == (4, 2, 7)
        assert alice["tokens"] == alice["input_tokens"] + alice["output_tokens"]
        last_run = Run.objects.filter(user=user).order_by("-created_at").first()
        assert alice["last_activity"] == last_run.created_at.isoformat().replace("+00:00", "Z")

    def test_users_without_activity_in_the_period_are_left_out(self, admin_client_api, rolled_up):
        emails = [row["email"] for row in admin_client_api.get(BASE + "users").json()["results"]]
        assert emails == ["alice@example.com"]


class TestRuns:
    def test_runs_come_newest_first_with_everything_about_them(self, admin_client_api, scene, user):
        results = admin_client_api.get(BASE + "runs").json()["results"]
        assert [row["id"] for row in results] == [
            str(scene[name].pk) for name in ("failed", "slow", "fast", "older", "ancient")
        ]
        slow = results[1]
        assert slow["user_email"] == "alice@example.com"
        assert slow["bot_name"] == "Ayudante"
        assert slow["input_full"] == "What does the handbook say?"
        assert slow["input_preview"] == "What does the handbook say?"
        assert (slow["latency_ms"], slow["ttft_ms"], slow["status"]) == (300, 60, "success")
        assert slow["tokens_used"] == slow["input_tokens"] + slow["output_tokens"]
        assert slow["feedback"] == {
            "rating": "thumbs_down",
            "comment": "Muy lenta y la información es incorrecta",
        }
        failed = results[0]
        assert (failed["status"], failed["error_code"], failed["message_id"], failed["feedback"]) == (
            "error",
            "PROVIDER_ERROR",
            None,
            None,
        )

    def test_a_long_question_has_a_short_preview(self, admin_client_api, scene):
        make_exchange(conversation=scene["today"], question="word " * 50)
        newest = admin_client_api.get(BASE + "runs").json()["results"][0]
        assert len(newest["input_preview"]) == 80 and newest["input_preview"].endswith("...")
        assert newest["input_full"] == "word " * 50

    def test_failed_attempts_are_shown(self, admin_client_api, scene):
        attempt = {
            "provider": "openai",
            "model_id": "gpt-4o",
            "code": "TIMEOUT",
            "message": "Timed out",
            "config_id": None,
        }
        make_exchange(conversation=scene["today"], failed_attempts=[attempt])
        newest = admin_client_api.get(BASE + "runs").json()["results"][0]
        assert newest["failed_attempts"] == [attempt]

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("status=error", ["failed"]),
            ("status=success", ["slow", "fast", "older", "ancient"]),
            ("model=gpt-4o-mini&status=success&date_from={today}", ["slow", "fast"]),
            ("date_from={two_days_ago}&date_to={two_days_ago}", ["older"]),
            ("date_to={yesterday}", ["older", "ancient"]),
        ],
    )
    def test_runs_can_be_filtered(self, admin_client_api, scene, query, expected):
        today = timezone.localdate()
        query = query.format(
            today=today.isoformat(),
            yesterday=(today - timedelta(days=1)).isoformat(),
            two_days_ago=(today - timedelta(days=2)).isoformat(),
        )
        results = admin_client_api.get(f"{BASE}runs?{query}").json()["results"]
        assert [row["id"] for row in results] == [str(scene[name].pk) for name in expected]

    def test_runs_can_be_filtered_by_user_and_bot(self, admin_client_api, scene, other_user):
        by_user = admin_client_api.get(f"{BASE}runs?user={other_user.pk}").json()["results"]
        assert [row["id"] for row in by_user] == [str(scene["ancient"].pk)]
        by_bot = admin_client_api.get(f"{BASE}runs?bot={scene['writer'].pk}").json()["results"]
        assert [row["id"] for row in by_bot] == [str(scene["older"].pk), str(scene["ancient"].pk)]

    def test_runs_are_paginated_with_a_cursor(self, admin_client_api, scene):
        first = admin_client_api.get(BASE + "runs?limit=2").json()
        assert len(first["results"]) == 2 and first["next"]
        second = admin_client_api.get(first["next"]).json()
        third = admin_client_api.get(second["next"]).json()
        ids = [row["id"] for page in (first, second, third) for row in page["results"]]
        assert ids == [str(scene[name].pk) for name in ("failed", "slow", "fast", "older", "ancient")]
        assert third["next"] is None


class TestFeedback:
    def test_thumbs_down_comments_are_grouped_by_bot_with_their_words(
        self, admin_client_api, rolled_up, scene
    ):
        body = admin_client_api.get(BASE + "feedback").json()
        assert body["sample_limit"] > 0
        # As many thumbs down each; the writer has no thumbs up to make up for it.
        writer, helper = body["results"]
        assert (helper["id"], helper["thumbs_up"], helper["thumbs_down"], helper["comments"]) == (
            str(scene["helper"].pk),
            1,
            1,
            1,
        )
        # Stop words (muy, y, la, es; and, the, is) are gone; accents do not split words.
        assert helper["top_words"] == [
            {"word": "incorrecta", "count": 1},
            {"word": "informacion", "count": 1},
            {"word": "lenta", "count": 1},
        ]
        assert [word["word"] for word in writer["top_words"]] == ["information", "outdated", "slow", "wrong"]
        assert writer["recent_comments"][0]["comment"] == "Wrong and slow, the information is outdated"
        assert writer["recent_comments"][0]["user_email"] == "alice@example.com"
        assert writer["comments_analyzed"] == 1

    def test_words_add_up_across_comments_and_the_bot_filter_narrows(self, admin_client_api, scene):
        for comment in ["Respuesta incorrecta otra vez", "Incorrecta: el plazo es otro"]:
            run = make_exchange(conversation=scene["today"])
            rate(run, "thumbs_down", comment)
        rollup_refresh()
        body = admin_client_api.get(f"{BASE}feedback?bot={scene['helper'].pk}").json()
        (helper,) = body["results"]
        assert helper["top_words"][0] == {"word": "incorrecta", "count": 3}
        assert helper["thumbs_down"] == 3
        assert [c["comment"] for c in helper["recent_comments"]][:2] == [
            "Incorrecta: el plazo es otro",
            "Respuesta incorrecta otra vez",
        ]


class TestConversations:
    def test_admins_list_every_users_conversations_with_message_counts(
        self, admin_client_api, scene, other_user
    ):
        results = admin_client_api.get(BASE + "conversations").json()["results"]
        assert len(results) == 3
        newest = results[0]
        assert newest["id"] == str(scene["today"].pk)
        assert (newest["user_email"], newest["message_count"], newest["bot_name"]) == (
            "alice@example.com",
            5,
            "Ayudante",
        )
        mine = admin_client_api.get(f"{BASE}conversations?user={other_user.pk}").json()["results"]
        assert [row["user_email"] for row in mine] == ["bob@example.com"]

    def test_an_admin_deletes_a_conversation_and_its_runs_stay_for_the_figures(self, admin_client_api, scene):
        conversation = scene["today"]
        response = admin_client_api.delete(f"{BASE}conversations/{conversation.pk}")
        assert response.status_code == 204
        assert not Conversation.objects.filter(pk=conversation.pk).exists()
        assert not Message.objects.filter(conversation_id=conversation.pk).exists()
        assert not Feedback.objects.filter(message__conversation_id=conversation.pk).exists()
        runs = Run.objects.filter(pk__in=[scene["fast"].pk, scene["slow"].pk, scene["failed"].pk])
        assert runs.count() == 3 and not runs.filter(conversation__isnull=False).exists()
        assert admin_client_api.get(BASE + "overview?days=1").json()["runs"] == 3

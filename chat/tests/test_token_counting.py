"""Every answer's tokens are counted, on its run and against the month's quota, even when
the provider's usage report never arrived."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from accounts.models import Plan
from bots.tests.factories import make_bot
from chat.llm import registry
from chat.llm.base import ProviderUnavailable, TextDelta, Usage, estimate_tokens
from chat.models import Run, TokenReservation, TokenUsage
from chat.services import engine, limits
from chat.services.conversations import AtLimit

pytestmark = pytest.mark.django_db

PIECES = ["Refunds are ", "paid within ", "five working days."]


class Scripted:
    """A provider that streams PIECES, then reports its usage or breaks."""

    def __init__(self, ending: str) -> None:
        self.ending = ending

    async def stream(self, spec, request):
        for piece in PIECES:
            yield TextDelta(piece)
        if self.ending == "usage":
            yield Usage(input_tokens=40, output_tokens=7)
        elif self.ending == "drop":
            raise ProviderUnavailable("The stream was cut.")
        elif self.ending == "malformed":
            raise ValueError("Expecting value: line 1 column 1")


@pytest.fixture
def provider(monkeypatch):
    def use(ending: str) -> None:
        monkeypatch.setitem(registry._instances, "local", Scripted(ending))

    return use


@pytest.fixture
def quota_user(user):
    user.plan = Plan.objects.create(name="Counted", monthly_token_quota=1_000_000)
    user.save()
    return user


def read(turn, *, stop_after_deltas: int | None = None) -> list[dict]:
    async def run():
        events = engine.chat_events(turn)
        seen = []
        async for event in events:
            seen.append(event)
            if (
                event["type"] == "delta"
                and len([e for e in seen if e["type"] == "delta"]) == stop_after_deltas
            ):
                break
        await events.aclose()
        return seen

    return async_to_sync(run)()


def prompt_estimate(turn) -> int:
    return estimate_tokens([turn.system_prompt, turn.question])


def test_reported_usage_is_stored_as_the_providers(provider, quota_user):
    provider("usage")
    turn = engine.chat_prepare(
        user=quota_user, bot_id=make_bot(owner=quota_user).pk, message="How long?", at_limit=AtLimit.REFUSE
    )
    read(turn)
    run = Run.objects.get()
    assert (run.input_tokens, run.output_tokens, run.usage_source) == (40, 7, "provider")
    assert TokenUsage.objects.get(user=quota_user).used == 47


def test_a_client_gone_after_the_last_delta_is_counted_by_estimate(provider, quota_user):
    provider("usage")
    turn = engine.chat_prepare(
        user=quota_user, bot_id=make_bot(owner=quota_user).pk, message="How long?", at_limit=AtLimit.REFUSE
    )
    read(turn, stop_after_deltas=len(PIECES))  # the usage report is never read
    run = Run.objects.get()
    assert run.status == "incomplete" and run.usage_source == "estimated"
    assert run.output_tokens == estimate_tokens(["".join(PIECES)]) > 0
    assert run.input_tokens >= prompt_estimate(turn) > 0
    usage = TokenUsage.objects.get(user=quota_user)
    assert (usage.used, usage.reserved) == (run.tokens_used, 0)


@pytest.mark.parametrize("ending", ["drop", "malformed"])
def test_an_answer_cut_by_the_provider_is_counted_by_estimate(provider, quota_user, ending):
    provider(ending)
    turn = engine.chat_prepare(
        user=quota_user, bot_id=make_bot(owner=quota_user).pk, message="How long?", at_limit=AtLimit.REFUSE
    )
    events = read(turn)
    assert events[-1]["type"] == "error"
    run = Run.objects.get()
    assert run.status == "error" and run.usage_source == "estimated"
    assert run.output_tokens == estimate_tokens(["".join(PIECES)])
    assert run.input_tokens >= prompt_estimate(turn) > 0
    assert TokenUsage.objects.get(user=quota_user).used == run.tokens_used


def test_no_model_reached_counts_nothing(quota_user):
    bot = make_bot(
        owner=quota_user,
        configs=[{"provider": "no-such-provider", "model_id": "x"}],
    )
    turn = engine.chat_prepare(user=quota_user, bot_id=bot.pk, message="How long?", at_limit=AtLimit.REFUSE)
    read(turn)
    run = Run.objects.get()
    assert (run.status, run.tokens_used, run.usage_source) == ("error", 0, "")
    usage = TokenUsage.objects.get(user=quota_user)
    assert (usage.used, usage.reserved) == (0, 0)


class TestQuota:
    def test_a_refusal_says_when_the_quota_renews(self, user_client, user):
        user.plan = Plan.objects.create(name="Spent", monthly_token_quota=0)
        user.save()
        bot = make_bot(owner=user)
        response = user_client.post(
            "/api/v1/chat", {"bot": str(bot.pk), "message": "hi", "stream": False}, format="json"
        )
        assert response.status_code == 429 and response.json()["error"]["code"] == "TOKEN_QUOTA_EXCEEDED"
        assert abs(int(response["Retry-After"]) - limits.seconds_until_next_month()) <= 5

    def test_the_runs_stored_before_count_on_the_first_turn_of_the_month(self, user_client, user):
        user.plan = Plan.objects.create(name="Small", monthly_token_quota=100)
        user.save()
        bot = make_bot(owner=user)
        Run.objects.create(user=user, bot=bot, status="success", input_tokens=60, output_tokens=40)
        response = user_client.post(
            "/api/v1/chat", {"bot": str(bot.pk), "message": "hi", "stream": False}, format="json"
        )
        assert response.status_code == 429
        assert not Run.objects.exclude(input_tokens=60).exists()

    def test_a_reservation_left_by_a_dead_process_expires(self, user_client, user, settings):
        user.plan = Plan.objects.create(name="Small", monthly_token_quota=100)
        user.save()
        bot = make_bot(owner=user)
        # A turn admitted, then its process died before storing the answer.
        engine.chat_prepare(user=user, bot_id=bot.pk, message="hi", at_limit=AtLimit.REFUSE)
        usage = TokenUsage.objects.get(user=user)
        assert usage.reserved > 0
        body = {"bot": str(bot.pk), "message": "hi", "stream": False}
        assert user_client.post("/api/v1/chat", body, format="json").status_code == 429
        TokenReservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert user_client.post("/api/v1/chat", body, format="json").status_code == 201
        usage.refresh_from_db()
        assert usage.reserved == 0 and usage.used == Run.objects.get().tokens_used

    def test_a_turn_refused_by_another_limit_holds_no_tokens(self, user_client, user):
        user.plan = Plan.objects.create(name="Small", monthly_token_quota=100, max_active_conversations=0)
        user.save()
        bot = make_bot(owner=user)
        response = user_client.post(
            "/api/v1/chat", {"bot": str(bot.pk), "message": "hi", "stream": False}, format="json"
        )
        assert response.status_code == 409
        assert not TokenReservation.objects.exists()
        assert TokenUsage.objects.filter(reserved__gt=0).count() == 0


def test_the_runs_api_says_how_tokens_were_counted(provider, quota_user, admin_client_api):
    provider("drop")
    read(
        engine.chat_prepare(
            user=quota_user,
            bot_id=make_bot(owner=quota_user).pk,
            message="How long?",
            at_limit=AtLimit.REFUSE,
        )
    )
    [row] = admin_client_api.get("/api/v1/analytics/runs").json()["results"]
    assert row["usage_source"] == "estimated" and row["tokens_used"] > 0

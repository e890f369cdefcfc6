"""Plan limits under parallel requests, on PostgreSQL where they really run in parallel.

Each test fires N requests at once (threads released together by a barrier) at the real
views, then asserts on what the database holds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django.db.models import F, Sum
from rest_framework.test import APIClient

from accounts.models import Plan
from accounts.services import auth_tokens_issue
from bots.tests.factories import make_bot
from chat.models import Conversation, Message, Run, TokenReservation, TokenUsage
from chat.services import conversations
from chat.tests.helpers import stream_chat

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def at_once(count: int, call: Callable[[int], Any]) -> list[Any]:
    """`call(0..count-1)`, each in a thread of its own, all released at the same moment."""
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        barrier.wait()
        try:
            return call(index)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def post_chats(token: str, body: dict, count: int) -> list[Any]:
    def post(_):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.post("/api/v1/chat", {"stream": False, **body}, format="json")

    return at_once(count, post)


def with_plan(user, **limits) -> str:
    user.plan = Plan.objects.create(name="Under test", **limits)
    user.save()
    return auth_tokens_issue(user=user).access


def statuses(responses) -> list[int]:
    return [response.status_code for response in responses]


def run_tokens(runs) -> list[int]:
    return list(runs.annotate(tokens=F("input_tokens") + F("output_tokens")).values_list("tokens", flat=True))


class TestConversationLimits:
    def test_parallel_new_conversations_never_pass_the_active_limit(self, user):
        token = with_plan(user, max_active_conversations=3)
        bot = make_bot(owner=user)
        responses = post_chats(token, {"bot": str(bot.pk), "message": "hello there"}, 30)
        assert statuses(responses).count(201) == 3
        assert set(statuses(responses)) == {201, 409}
        assert Conversation.objects.filter(user=user).count() == 3

    def test_parallel_messages_never_pass_the_conversation_limit(self, user):
        token = with_plan(user, max_messages_per_conversation=6)
        bot = make_bot(owner=user)
        [first] = post_chats(token, {"bot": str(bot.pk), "message": "start"}, 1)
        assert first.status_code == 201
        conversation = Conversation.objects.get()
        body = {"bot": str(bot.pk), "message": "more", "conversation": str(conversation.pk)}
        responses = post_chats(token, body, 30)
        assert statuses(responses).count(201) == 2
        assert Message.objects.filter(conversation=conversation).count() == 6
        conversation.refresh_from_db()
        assert conversation.message_count == 6

    def test_parallel_streamed_follow_ups_never_pass_the_conversation_limit(self, user):
        """Streamed follow-ups check the limit by a read and write the question while the
        model is asked (`engine.chat_prepare(write_later=True)`): the writes still decide."""
        token = with_plan(user, max_messages_per_conversation=6, monthly_token_quota=10**9)
        bot = make_bot(owner=user)
        [first] = post_chats(token, {"bot": str(bot.pk), "message": "start"}, 1)
        assert first.status_code == 201
        conversation = Conversation.objects.get()
        body = {"bot": str(bot.pk), "message": "more", "conversation": str(conversation.pk), "stream": True}
        results = at_once(30, lambda _: stream_chat(token, body))
        answered = [events for status, _, events in results if status == 200]
        assert len(answered) == 2 and all(events[-1]["type"] == "done" for events in answered)
        refused = [events[0] for status, _, events in results if status != 200]
        assert {(body["error"]["code"]) for body in refused} == {"MESSAGE_LIMIT"}
        assert Message.objects.filter(conversation=conversation).count() == 6
        conversation.refresh_from_db()
        assert conversation.message_count == 6
        assert Run.objects.count() == 3
        usage = TokenUsage.objects.get(user=user)
        assert (usage.used, usage.reserved) == (sum(run_tokens(Run.objects.all())), 0)
        assert not TokenReservation.objects.exists()

    def test_parallel_messages_never_pass_the_messages_per_minute(self, user):
        token = with_plan(user, messages_per_minute=5)
        bot = make_bot(owner=user)
        responses = post_chats(token, {"bot": str(bot.pk), "message": "hello there"}, 30)
        assert statuses(responses).count(201) == 5
        assert set(statuses(responses)) == {201, 429}
        assert all(int(r["Retry-After"]) >= 1 for r in responses if r.status_code == 429)
        assert Message.objects.filter(role="user").count() == 5
        assert Run.objects.count() == 5


class TestEvictionRace:
    """At the per-bot limit every confirmed chat evicts the oldest conversation, which may
    be one whose answer a parallel request is still writing."""

    LIMIT = 3
    PARALLEL = 40

    def _at_the_limit(self, user):
        token = with_plan(user, max_conversations_per_bot=self.LIMIT)
        bot = make_bot(owner=user)
        for number in range(self.LIMIT):
            conversations.conversation_create(
                user=user, bot=bot, title=f"Old {number}", at_limit=conversations.AtLimit.REFUSE
            )
        return token, {"bot": str(bot.pk), "message": "hello there", "confirm_delete": True}

    def _assert_every_answer_and_run_stored(self, user):
        assert Conversation.objects.filter(user=user).count() == self.LIMIT
        runs = Run.objects.all()
        assert runs.count() == self.PARALLEL
        # A run keeps its conversation and answer, or lost both to an eviction.
        assert not runs.filter(conversation__isnull=False, message__isnull=True).exists()
        assert not runs.filter(conversation__isnull=True, message__isnull=False).exists()
        for conversation in Conversation.objects.filter(user=user):
            assert conversation.message_count == conversation.messages.count() == 2

    def test_parallel_confirmed_chats_answer_and_store_every_run(self, user):
        token, body = self._at_the_limit(user)
        responses = post_chats(token, body, self.PARALLEL)
        assert statuses(responses) == [201] * self.PARALLEL
        assert all(response.json()["assistant_message"]["content"] for response in responses)
        self._assert_every_answer_and_run_stored(user)

    def test_parallel_confirmed_streams_all_end_with_done(self, user):
        token, body = self._at_the_limit(user)
        results = at_once(self.PARALLEL, lambda _: stream_chat(token, {**body, "stream": True}))
        assert [status for status, _, _ in results] == [200] * self.PARALLEL
        assert [events[-1]["type"] for _, _, events in results] == ["done"] * self.PARALLEL
        self._assert_every_answer_and_run_stored(user)


class TestTokenQuota:
    def test_parallel_chats_pass_the_quota_by_one_answer_at_most(self, user):
        from chat.services.limits import seconds_until_next_month

        token = with_plan(user, monthly_token_quota=100)
        bot = make_bot(owner=user)
        responses = post_chats(token, {"bot": str(bot.pk), "message": "hello there"}, 30)
        assert set(statuses(responses)) == {201, 429}
        for refused in (response for response in responses if response.status_code == 429):
            assert refused.json()["error"]["code"] == "TOKEN_QUOTA_EXCEEDED"
            assert abs(int(refused["Retry-After"]) - seconds_until_next_month()) <= 60
        tokens = run_tokens(Run.objects.filter(user=user))
        assert len(tokens) == statuses(responses).count(201)
        assert sum(tokens) <= 100 + max(tokens)
        usage = TokenUsage.objects.get(user=user)
        assert (usage.used, usage.reserved) == (sum(tokens), 0)
        assert not TokenReservation.objects.exists()

    def test_parallel_streamed_follow_ups_pass_the_quota_by_one_answer_at_most(self, user):
        token = with_plan(user, monthly_token_quota=400)
        bot = make_bot(owner=user)
        [first] = post_chats(token, {"bot": str(bot.pk), "message": "hello there"}, 1)
        assert first.status_code == 201
        conversation = first.json()["conversation"]["id"]
        body = {"bot": str(bot.pk), "message": "and then?", "conversation": conversation, "stream": True}
        results = at_once(30, lambda _: stream_chat(token, body))
        assert {status for status, _, _ in results} <= {200, 429}
        refused = [events[0] for status, _, events in results if status == 429]
        assert refused and {body["error"]["code"] for body in refused} == {"TOKEN_QUOTA_EXCEEDED"}
        assert all(events[-1]["type"] == "done" for status, _, events in results if status == 200)
        tokens = run_tokens(Run.objects.filter(user=user))
        assert len(tokens) == 1 + [status for status, _, _ in results].count(200)
        assert sum(tokens) <= 400 + max(tokens)
        usage = TokenUsage.objects.get(user=user)
        assert (usage.used, usage.reserved) == (sum(tokens), 0)
        assert not TokenReservation.objects.exists()
        assert Message.objects.filter(role="user").count() == len(tokens)

    def test_the_usage_row_agrees_with_the_runs(self, user):
        """Settled inside the transaction that stores the run: no answer counted twice or lost."""
        token = with_plan(user, monthly_token_quota=10_000_000)
        bot = make_bot(owner=user)
        responses = post_chats(token, {"bot": str(bot.pk), "message": "hello there"}, 20)
        assert statuses(responses) == [201] * 20
        total = Run.objects.filter(user=user).aggregate(total=Sum(F("input_tokens") + F("output_tokens")))
        usage = TokenUsage.objects.get(user=user)
        assert (usage.used, usage.reserved) == (total["total"], 0)


class TestPerBotLimitOnEachSurface:
    LIMIT = 3
    PARALLEL = 20

    def test_champions_refuses_past_the_limit(self, user):
        from bytchat.compat.champions.tests.helpers import url

        token = with_plan(user, max_conversations_per_bot=self.LIMIT)
        bot = make_bot(owner=user)

        def post(_):
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            body = {"message": "hello there", "bot": str(bot.pk), "stream": False}
            return client.post(url("chat"), body, format="json")

        responses = at_once(self.PARALLEL, post)
        assert statuses(responses).count(200) == self.LIMIT
        refused = [response.json() for response in responses if response.status_code != 200]
        assert {body["detail"]["code"] for body in refused} == {"CONVERSATION_LIMIT"}
        assert Conversation.objects.filter(user=user).count() == self.LIMIT

    def test_escombot_archives_the_oldest_and_keeps_the_limit_of_active_chats(self):
        from django.test import Client

        from accounts.tests.factories import make_user
        from bytchat.compat.escombot.tests.helpers import EMAIL, PASSWORD, login, url

        make_bot(owner=None, is_public=True, language="es", name_es="ESCOMBOT")
        user = make_user(email=EMAIL, password=PASSWORD)
        with_plan(user, max_conversations_per_bot=self.LIMIT)
        browser = Client()
        assert login(browser).status_code == 200

        def post(index):
            client = Client()
            client.cookies = browser.cookies
            return client.post(url("chats"), {"title": f"Chat {index}"}, content_type="application/json")

        responses = at_once(self.PARALLEL, post)
        assert statuses(responses) == [201] * self.PARALLEL
        assert Conversation.objects.filter(user=user, archived=False).count() == self.LIMIT
        assert Conversation.objects.filter(user=user, archived=True).count() == self.PARALLEL - self.LIMIT

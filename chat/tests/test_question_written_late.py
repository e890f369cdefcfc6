"""A streamed follow-up's question is written while the model is asked (issue 16, step 1):
its limits are checked by a read, and the same conditional writes as before are sent in a
thread while the model's request goes out. PostgreSQL only (the writes' one round trip).
"""

from __future__ import annotations

import threading

import pytest

from accounts.models import Plan
from accounts.services import auth_tokens_issue
from bots.tests.factories import make_bot
from chat.llm.base import TextDelta, Usage
from chat.models import Conversation, Message, Run, TokenReservation, TokenUsage
from chat.services import answers, engine
from chat.tests.helpers import stream_chat

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class FakeModel:
    """Stands in for `stream_with_failover`: notes when it is asked, and whether its
    stream was closed before it ended (the model's call cancelled)."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.calls = 0
        self.cut_short = 0

    async def __call__(self, specs, request):
        self.calls += 1
        self.asked.set()
        ended = False
        try:
            for word in ("Open ", "from ", "nine."):
                yield TextDelta(word)
            yield Usage(input_tokens=10, output_tokens=3)
            ended = True
        finally:
            if not ended:
                self.cut_short += 1


@pytest.fixture
def model(monkeypatch):
    fake = FakeModel()
    monkeypatch.setattr(engine, "stream_with_failover", fake)
    return fake


def with_plan(user, **limits) -> str:
    user.plan = Plan.objects.create(name="Under test", **limits)
    user.save()
    return auth_tokens_issue(user=user).access


def start_conversation(token, bot) -> str:
    status, _, events = stream_chat(token, {"bot": str(bot.pk), "message": "Hello", "stream": True})
    assert status == 200 and events[-1]["type"] == "done"
    return events[0]["conversation_id"]


def follow_up(token, bot, conversation) -> tuple[int, dict, list[dict]]:
    body = {"bot": str(bot.pk), "message": "When do you open?", "conversation": conversation, "stream": True}
    return stream_chat(token, body)


def before_the_writes(monkeypatch, action) -> list[str]:
    """Run `action()` in `engine.turn_write`'s thread just before the writes are sent;
    returns the names of the turns written, for checking that it ran."""
    written = []
    original = engine.turn_write

    def turn_write(turn):
        if turn.pending is not None:
            written.append(turn.question)
            action()
        return original(turn)

    monkeypatch.setattr(engine, "turn_write", turn_write)
    return written


def test_the_model_is_asked_before_the_question_is_written(user, model, monkeypatch):
    token = with_plan(user, max_messages_per_conversation=100, monthly_token_quota=10**9)
    bot = make_bot(owner=user)
    conversation = start_conversation(token, bot)
    model.asked.clear()
    seen = {}
    # The writes wait (in their thread) for the model's request: without the overlap
    # they would come first, and the model would only be asked after this timeout.
    written = before_the_writes(monkeypatch, lambda: seen.setdefault("asked", model.asked.wait(5)))

    status, _, events = follow_up(token, bot, conversation)

    assert written == ["When do you open?"] and seen["asked"] is True
    assert status == 200 and [event["type"] for event in events][-2:] == ["citations", "done"]
    assert "".join(event["content"] for event in events if event["type"] == "delta") == "Open from nine."
    # Stored as without the overlap: question and answer, their run, the hold settled.
    stored = Conversation.objects.get(pk=conversation)
    assert stored.message_count == stored.messages.count() == 4
    assert events[0]["user_message_id"] == str(stored.messages.get(content="When do you open?").pk)
    assert Run.objects.filter(conversation=stored, status="success").count() == 2
    usage = TokenUsage.objects.get(user=user)
    assert usage.reserved == 0 and usage.used == 2 * 13
    assert not TokenReservation.objects.exists()


def test_the_writes_read_no_history_the_check_already_gave_the_model(user, model, monkeypatch):
    token = with_plan(user, max_messages_per_conversation=100, monthly_token_quota=10**9)
    bot = make_bot(owner=user)
    conversation = start_conversation(token, bot)
    sent = []
    original = engine.execute_together

    def execute_together(statements):
        results = original(statements)
        sent.append(results)
        return results

    monkeypatch.setattr(engine, "execute_together", execute_together)
    written = before_the_writes(monkeypatch, lambda: sent.clear())

    status, _, events = follow_up(token, bot, conversation)

    assert written == ["When do you open?"] and status == 200 and events[-1]["type"] == "done"
    [reservation, question, hold] = sent[0]
    assert [row[2:] for row in reservation] == [(None, None)]  # no message read back
    assert len(question) == 0 and len(hold) == 1


def test_a_conversation_filled_meanwhile_refuses_with_nothing_stored(user, model, monkeypatch):
    token = with_plan(user, max_messages_per_conversation=4, monthly_token_quota=10**9)
    bot = make_bot(owner=user)
    conversation = start_conversation(token, bot)
    # The read found room for one more turn; a parallel turn takes it before the writes.
    written = before_the_writes(
        monkeypatch, lambda: Conversation.objects.filter(pk=conversation).update(message_count=4)
    )

    status, _, [body] = follow_up(token, bot, conversation)

    assert written == ["When do you open?"]
    assert status == 409 and body["error"]["code"] == "MESSAGE_LIMIT"
    assert Message.objects.filter(conversation_id=conversation).count() == 2
    assert Run.objects.count() == 1
    assert TokenUsage.objects.get(user=user).reserved == 0
    assert not TokenReservation.objects.exists()
    assert model.calls == 2 and model.cut_short == 1  # its call cancelled before any text
    assert not answers._running


def test_a_quota_used_up_meanwhile_refuses_with_nothing_stored(user, model, monkeypatch):
    token = with_plan(user, max_messages_per_conversation=100, monthly_token_quota=10_000)
    bot = make_bot(owner=user)
    conversation = start_conversation(token, bot)
    before_the_writes(monkeypatch, lambda: TokenUsage.objects.filter(user=user).update(used=10_000))

    status, _, [body] = follow_up(token, bot, conversation)

    assert status == 429 and body["error"]["code"] == "TOKEN_QUOTA_EXCEEDED"
    assert Message.objects.filter(conversation_id=conversation).count() == 2
    assert Conversation.objects.get(pk=conversation).message_count == 2
    assert Run.objects.count() == 1
    assert not TokenReservation.objects.exists()
    assert model.cut_short == 1


def test_a_turn_the_read_refuses_takes_the_long_way_and_says_why(user, model, monkeypatch):
    token = with_plan(user, max_messages_per_conversation=2)
    bot = make_bot(owner=user)
    conversation = start_conversation(token, bot)
    written = before_the_writes(monkeypatch, lambda: None)

    status, _, [body] = follow_up(token, bot, conversation)

    assert status == 409 and body["error"]["code"] == "MESSAGE_LIMIT"
    assert written == []  # refused before the model was asked
    assert model.calls == 1


def test_without_the_event_log_the_question_is_written_first(user, model, monkeypatch, settings):
    settings.CHAT_EVENT_LOG = "off"
    token = with_plan(user, max_messages_per_conversation=4)
    bot = make_bot(owner=user)
    conversation = start_conversation(token, bot)
    order = []
    model.asked.clear()
    before_the_writes(monkeypatch, lambda: order.append(("written", model.asked.is_set())))

    status, _, events = follow_up(token, bot, conversation)

    assert status == 200 and events[-1]["type"] == "done"
    assert order == [("written", False)]
    assert Conversation.objects.get(pk=conversation).messages.count() == 4
    # and the next one is refused before anything, as the limit says
    status, _, [body] = follow_up(token, bot, conversation)
    assert status == 409 and body["error"]["code"] == "MESSAGE_LIMIT"

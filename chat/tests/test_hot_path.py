"""What a chat turn costs the database before and after its answer (issue 16): a fixed
number of statements that does not grow with the month's usage, and no search for a bot
with nothing to search."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Plan
from bots.knowledge import search as search_module
from bots.tests.factories import make_bot
from chat.models import Run, TokenReservation, TokenUsage
from chat.services import conversations, engine
from chat.services.engine import _Outcome, _store_answer
from chat.tests.helpers import add_knowledge

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited_user(user):
    user.plan = Plan.objects.create(
        name="Every limit",
        max_conversations_per_bot=100,
        max_active_conversations=100,
        max_messages_per_conversation=100,
        messages_per_minute=100,
        monthly_token_quota=10**9,
    )
    user.save()
    return user


def _turn(user, bot, conversation_id=None, message="What is new?") -> tuple[engine.Turn, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        turn = engine.chat_prepare(
            user=user,
            bot_id=bot.pk,
            message=message,
            conversation_id=conversation_id,
            at_limit=conversations.AtLimit.REFUSE,
        )
    return turn, [query["sql"] for query in queries]


def _store(turn) -> list[str]:
    outcome = _Outcome(content="Nothing.", status="success", provider="local", model="m", input_tokens=7)
    outcome.output_tokens, outcome.usage_source = 3, "provider"
    with CaptureQueriesContext(connection) as queries:
        _store_answer(turn, outcome)
    return [query["sql"] for query in queries]


def test_the_months_runs_are_summed_once_not_on_every_turn(limited_user):
    bot = make_bot(owner=limited_user)
    first, first_queries = _turn(limited_user, bot)
    _store(first)
    later, later_queries = _turn(limited_user, bot, first.conversation_id)
    _store(later)
    assert sum("SUM(" in sql for sql in first_queries) == 1  # the month's row is created
    assert not any("SUM(" in sql for sql in later_queries)
    usage = TokenUsage.objects.get(user=limited_user)
    assert (usage.used, usage.reserved) == (20, 0)
    assert not TokenReservation.objects.exists()
    assert Run.objects.filter(user=limited_user).count() == 2


def test_a_turn_takes_as_many_statements_with_a_long_history_of_runs(limited_user):
    bot = make_bot(owner=limited_user)
    turn, _ = _turn(limited_user, bot)
    _store(turn)
    counts = []
    for _ in range(2):
        Run.objects.bulk_create(
            Run(user=limited_user, bot=bot, input_tokens=1, output_tokens=1) for _ in range(50)
        )
        turn, prepared = _turn(limited_user, bot, turn.conversation_id)
        counts.append((len(prepared), len(_store(turn))))
    assert counts[0] == counts[1]
    assert TokenUsage.objects.get(user=limited_user).used == 30  # three turns; the runs added here are not


@pytest.mark.postgres
def test_on_postgresql_the_quota_is_held_and_settled_in_one_statement_each(limited_user):
    bot = make_bot(owner=limited_user)
    first, _ = _turn(limited_user, bot)
    _store(first)
    turn, prepared = _turn(limited_user, bot, first.conversation_id)
    stored = _store(turn)
    assert [sql for sql in prepared if "chat_token" in sql] == [
        next(sql for sql in prepared if "chat_tokenreservation" in sql and "chat_tokenusage" in sql)
    ]
    assert [sql for sql in stored if "chat_token" in sql] == [
        next(sql for sql in stored if "chat_tokenreservation" in sql and "chat_tokenusage" in sql)
    ]
    usage = TokenUsage.objects.get(user=limited_user)
    assert (usage.used, usage.reserved) == (20, 0)


def test_a_bot_with_no_knowledge_is_not_searched(limited_user, monkeypatch):
    searched = []
    real_search = search_module.search
    monkeypatch.setattr(
        search_module, "search", lambda *args, **kwargs: searched.append(args) or real_search(*args, **kwargs)
    )
    empty = make_bot(owner=limited_user)
    taught = make_bot(owner=limited_user)
    add_knowledge(taught, "handbook.txt", "Holidays: every employee has 25 days of holidays a year.")
    found = {}
    for bot in (empty, taught):
        turn, _ = _turn(limited_user, bot, message="How many days of holidays?")
        result = async_to_sync(engine.chat_complete_async)(turn)
        found[bot.pk] = [citation.source_name for citation in result.assistant_message.citations.all()]
    assert found == {empty.pk: [], taught.pk: ["handbook.txt"]}
    assert [args[0].pk for args in searched] == [taught.pk]


def test_a_follow_up_reads_its_filter_and_history_with_its_reservation(limited_user):
    """On PostgreSQL in one round trip with the question's INSERT and the token hold (it was
    BEGIN, five statements, COMMIT); the same turn on SQLite reads them one by one."""
    from chat.models import Message, MessageStatus

    bot = make_bot(owner=limited_user)
    first, _ = _turn(limited_user, bot, message="First question")
    _store(first)
    conversation_id = first.conversation_id
    failed = Message.objects.create(
        conversation_id=conversation_id, role="assistant", status=MessageStatus.ERROR
    )
    turn, prepared = _turn(limited_user, bot, conversation_id, message="Second question")
    assert [(m.role, m.content) for m in turn.history] == [
        ("user", "First question"),
        ("assistant", "Nothing."),
        ("user", "Second question"),
    ]
    assert failed.content == "" and turn.knowledge_filter is None
    if connection.vendor == "postgresql":  # the one round trip, in this test's savepoint
        [together] = [sql for sql in prepared if "SAVEPOINT" not in sql]
        assert "LATERAL" in together and "INSERT INTO" in together and "chat_tokenreservation" in together
    from chat.models import Conversation

    assert Conversation.objects.get(pk=conversation_id).message_count == 4


@pytest.mark.parametrize("case", ["not a uuid", "someone else's", "archived", "full", "other bot"])
def test_a_follow_up_that_cannot_be_reserved_says_why_and_holds_nothing(
    limited_user, django_user_model, case
):
    from bytchat.errors import InvalidInput, NotFound
    from chat.errors import ConversationArchived, MessageLimitReached
    from chat.models import Conversation

    bot = make_bot(owner=limited_user, is_public=True)  # a stranger may chat with it
    first, _ = _turn(limited_user, bot)
    _store(first)
    conversation = Conversation.objects.get(pk=first.conversation_id)
    target, user = conversation.pk, limited_user
    expected = {
        "not a uuid": NotFound,
        "someone else's": NotFound,
        "archived": ConversationArchived,
        "full": MessageLimitReached,
        "other bot": InvalidInput,
    }[case]
    if case == "not a uuid":
        target = "12345"
    elif case == "someone else's":
        user = django_user_model.objects.create_user(email="other@example.com", password=None)
        user.plan = limited_user.plan
        user.save()
    elif case == "archived":
        Conversation.objects.filter(pk=target).update(archived=True)
    elif case == "full":
        Conversation.objects.filter(pk=target).update(message_count=99)
    elif case == "other bot":
        bot = make_bot(owner=limited_user)
    with pytest.raises(expected):
        _turn(user, bot, target)
    conversation.refresh_from_db()
    assert conversation.message_count == {"full": 99}.get(case, 2)
    assert not TokenReservation.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("conversation", ["kept", "deleted meanwhile"])
def test_on_postgresql_an_answer_is_stored_in_one_round_trip(limited_user, conversation):
    """Outside a test's transaction, as in production: the statements are one transaction
    of their own. A conversation deleted meanwhile leaves none of them applied; the long
    way then stores the run alone."""
    from chat.llm.base import Source
    from chat.models import Citation, Conversation, Message
    from chat.services.engine import _Outcome

    bot = make_bot(owner=limited_user)
    turn, _ = _turn(limited_user, bot)
    if conversation == "deleted meanwhile":
        Conversation.objects.filter(pk=turn.conversation_id).delete()
    outcome = _Outcome(content="Twenty-five days [1].", status="success", provider="local", model="m")
    outcome.input_tokens, outcome.output_tokens, outcome.usage_source = 7, 3, "provider"
    outcome.sources = [Source(index=1, text="25 days.", source_name="handbook.md", page_numbers=[2])]
    with CaptureQueriesContext(connection) as queries:
        _store_answer(turn, outcome)
    run = Run.objects.get()
    usage = TokenUsage.objects.get(user=limited_user)
    assert (usage.used, usage.reserved) == (10, 0) and not TokenReservation.objects.exists()
    if conversation == "kept":
        assert len(queries) == 1
        message = Message.objects.get(role="assistant")
        assert (run.message_id, run.conversation_id) == (message.pk, turn.conversation_id)
        assert message.content == "Twenty-five days [1]." and message.created_at and run.created_at
        assert list(Citation.objects.values_list("message_id", "index", "page_numbers")) == [
            (message.pk, 1, [2])
        ]
    else:
        assert (run.message_id, run.conversation_id, run.status) == (None, None, "success")
        assert not Message.objects.filter(role="assistant").exists() and not Citation.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", ["fits", "conversation full", "quota reached"])
def test_on_postgresql_a_follow_up_is_one_round_trip_that_applies_all_or_nothing(limited_user, case):
    """Outside a test's transaction, as in production."""
    from chat.errors import MessageLimitReached, TokenQuotaExceeded
    from chat.models import Conversation, Message

    bot = make_bot(owner=limited_user)
    first, _ = _turn(limited_user, bot, message="First question")
    _store(first)
    conversation = Conversation.objects.get(pk=first.conversation_id)
    if case == "conversation full":
        Conversation.objects.filter(pk=conversation.pk).update(message_count=99)
    elif case == "quota reached":
        TokenUsage.objects.filter(user=limited_user).update(used=10**9)
    conversation.refresh_from_db()
    before = (conversation.message_count, Message.objects.count(), TokenUsage.objects.get().reserved)
    if case == "fits":
        turn, prepared = _turn(limited_user, bot, conversation.pk, message="Second question")
        assert len(prepared) == 1
        assert [m.content for m in turn.history] == ["First question", "Nothing.", "Second question"]
        assert Message.objects.get(pk=turn.user_message_id).content == "Second question"
        assert TokenReservation.objects.get().pk == turn.token_hold.reservation_id
        conversation.refresh_from_db()
        assert conversation.message_count == before[0] + 2
        return
    with pytest.raises(MessageLimitReached if case == "conversation full" else TokenQuotaExceeded):
        _turn(limited_user, bot, conversation.pk, message="Second question")
    conversation.refresh_from_db()
    assert (conversation.message_count, Message.objects.count(), TokenUsage.objects.get().reserved) == before
    assert not TokenReservation.objects.exists()

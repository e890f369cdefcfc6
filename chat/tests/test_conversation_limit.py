"""The per-bot conversation limit counts active conversations only; what happens at the
limit is each surface's policy (`conversations.AtLimit`)."""

from __future__ import annotations

import pytest

from accounts.models import Plan
from analytics.tests import factories
from bots.tests.factories import make_bot
from chat.models import Conversation
from chat.services import conversations

pytestmark = pytest.mark.django_db


def make_conversation(*, user, bot, title: str = "", archived: bool = False) -> Conversation:
    conversation = factories.make_conversation(user=user, bot=bot, title=title)
    if archived:
        conversations.conversation_set_archived(conversation=conversation, archived=True)
    return conversation


@pytest.fixture
def bot(user):
    user.plan = Plan.objects.create(name="Two per bot", max_conversations_per_bot=2)
    user.save()
    return make_bot(owner=user)


def test_archived_conversations_leave_their_place_free(user_client, user, bot):
    make_conversation(user=user, bot=bot, title="Archived", archived=True)
    make_conversation(user=user, bot=bot, title="Active")
    response = user_client.post("/api/v1/conversations", {"bot": str(bot.pk)}, format="json")
    assert response.status_code == 201
    assert Conversation.objects.filter(user=user, bot=bot).count() == 3


def test_confirming_deletes_the_oldest_active_one_never_an_archived_one(user_client, user, bot):
    archived = make_conversation(user=user, bot=bot, title="Archived", archived=True)
    oldest = make_conversation(user=user, bot=bot, title="Oldest active")
    make_conversation(user=user, bot=bot, title="Newer")
    body = {"bot": str(bot.pk), "message": "hello there", "stream": False}
    response = user_client.post("/api/v1/chat", body, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["oldest_conversation"]["id"] == str(oldest.pk)
    response = user_client.post("/api/v1/chat", {**body, "confirm_delete": True}, format="json")
    assert response.status_code == 201
    assert not Conversation.objects.filter(pk=oldest.pk).exists()
    assert Conversation.objects.filter(pk=archived.pk).exists()
    assert Conversation.objects.filter(user=user, bot=bot, archived=False).count() == 2


def test_refuse_policy_says_conversation_limit(user, bot):
    make_conversation(user=user, bot=bot)
    make_conversation(user=user, bot=bot)
    with pytest.raises(conversations.ConversationLimitReached):
        conversations.conversation_create(
            user=user, bot=bot, confirm_delete=True, at_limit=conversations.AtLimit.REFUSE
        )
    assert Conversation.objects.count() == 2


def test_archive_policy_archives_the_oldest_active_one(user, bot):
    oldest = make_conversation(user=user, bot=bot)
    newer = make_conversation(user=user, bot=bot)
    created = conversations.conversation_create(
        user=user, bot=bot, at_limit=conversations.AtLimit.ARCHIVE_OLDEST
    )
    oldest.refresh_from_db()
    newer.refresh_from_db()
    assert oldest.archived and oldest.archived_at is not None
    assert not newer.archived and not created.archived


def test_archive_policy_frees_a_place_under_the_active_limit_with_this_bot_only(user):
    user.plan = Plan.objects.create(name="Two active", max_active_conversations=2)
    user.save()
    bot, other_bot = make_bot(owner=user), make_bot(owner=user)
    elsewhere = make_conversation(user=user, bot=other_bot)
    here = make_conversation(user=user, bot=bot)
    conversations.conversation_create(user=user, bot=bot, at_limit=conversations.AtLimit.ARCHIVE_OLDEST)
    here.refresh_from_db()
    elsewhere.refresh_from_db()
    assert here.archived and not elsewhere.archived
    Conversation.objects.filter(bot=bot).update(archived=True)
    make_conversation(user=user, bot=other_bot)
    with pytest.raises(conversations.ConversationLimitReached):  # nothing of this bot to archive
        conversations.conversation_create(user=user, bot=bot, at_limit=conversations.AtLimit.ARCHIVE_OLDEST)


@pytest.mark.parametrize("deleted", ["before the answer is stored", "right after"])
def test_a_conversation_deleted_while_its_answer_runs_still_answers(user_client, user, monkeypatch, deleted):
    """What a parallel eviction does to a running answer, in a fixed order."""
    from chat.models import Run
    from chat.services import engine

    store_answer = engine._store_answer

    def store_around_a_deletion(turn, outcome):
        if deleted == "right after":
            store_answer(turn, outcome)
        Conversation.objects.filter(pk=turn.conversation_id).delete()
        if deleted != "right after":
            store_answer(turn, outcome)

    monkeypatch.setattr(engine, "_store_answer", store_around_a_deletion)
    bot = make_bot(owner=user)
    body = {"bot": str(bot.pk), "message": "hello there", "stream": False}
    response = user_client.post("/api/v1/chat", body, format="json")
    assert response.status_code == 201
    assert response.json()["assistant_message"]["content"]
    run = Run.objects.get()
    assert (run.conversation_id, run.message_id, run.status) == (None, None, "success")
    assert run.tokens_used > 0


def test_every_caller_picks_a_policy(user, bot):
    with pytest.raises(TypeError):
        conversations.conversation_create(user=user, bot=bot)


def test_delete_oldest_policy_deletes_the_oldest_active_one_unasked(user, bot):
    archived = make_conversation(user=user, bot=bot, title="Archived", archived=True)
    oldest = make_conversation(user=user, bot=bot, title="Oldest active")
    newer = make_conversation(user=user, bot=bot, title="Newer")
    created = conversations.conversation_create(
        user=user, bot=bot, at_limit=conversations.AtLimit.DELETE_OLDEST
    )
    assert not Conversation.objects.filter(pk=oldest.pk).exists()
    assert set(Conversation.objects.values_list("pk", flat=True)) == {archived.pk, newer.pk, created.pk}


def test_the_confirmation_error_says_the_limit(user_client, user, bot):
    make_conversation(user=user, bot=bot, title="Oldest")
    make_conversation(user=user, bot=bot)
    response = user_client.post("/api/v1/conversations", {"bot": str(bot.pk)}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["limit"], error["oldest_conversation"]["title"]) == (
        "CONVERSATION_LIMIT_PER_BOT",
        2,
        "Oldest",
    )


@pytest.mark.parametrize("limit_field", ["max_conversations_per_bot", "max_active_conversations"])
def test_a_refusal_says_the_limit(user, limit_field):
    user.plan = Plan.objects.create(name="Limited", **{limit_field: 1})
    user.save()
    bot = make_bot(owner=user)
    make_conversation(user=user, bot=bot)
    with pytest.raises(conversations.ConversationLimitReached) as refused:
        conversations.conversation_create(user=user, bot=bot, at_limit=conversations.AtLimit.REFUSE)
    assert refused.value.extra == {"limit": 1}

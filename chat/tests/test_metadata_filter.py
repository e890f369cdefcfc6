"""The chat's knowledge filter: sent with a question, kept by the conversation for its
follow-ups, the bot's default otherwise; a filter that matches nothing gets the "no
knowledge" answer, not one from other documents. Same on PostgreSQL and SQLite."""

import pytest

from accounts.services import auth_tokens_issue
from bots import services as bot_services
from bots.tests.factories import make_bot, make_indexed_document
from bytchat.errors import InvalidInput
from chat.llm.local import NOTHING_FOUND
from chat.models import Conversation, Message
from chat.services import engine
from chat.tests.helpers import stream_chat

pytestmark = pytest.mark.django_db

QUESTION = "What are the minimum reserves?"


@pytest.fixture
def bot(user):
    bot = make_bot(owner=user, language="en")
    make_indexed_document(
        bot=bot,
        text="DSCR program. The minimum reserves are six months of payments.",
        name="dscr.md",
        metadata={"program": "DSCR", "year": 2024},
    )
    make_indexed_document(
        bot=bot,
        text="Full Doc program. The minimum reserves are two months of payments.",
        name="full-doc.md",
        metadata={"program": "Full Doc", "year": 2023},
    )
    return bot


@pytest.fixture
def token(user):
    return auth_tokens_issue(user=user).access


def ask(user, bot, message=QUESTION, **extra):
    return engine.chat_complete(user=user, bot_id=bot.pk, message=message, **extra)


def cited(result) -> list[str]:
    return sorted(citation.source_name for citation in result.assistant_message.citations.all())


def test_without_a_filter_both_programs_are_sources(user, bot):
    assert cited(ask(user, bot)) == ["dscr.md", "full-doc.md"]


def test_a_filter_restricts_the_sources_and_citations_carry_the_metadata(user, bot):
    result = ask(user, bot, metadata_filter={"program": "DSCR"})
    assert cited(result) == ["dscr.md"]
    assert "six months" in result.assistant_message.content
    [citation] = result.assistant_message.citations.all()
    assert citation.metadata == {"program": "DSCR", "year": 2024}


def test_follow_ups_keep_the_conversations_filter_until_another_is_sent(user, bot):
    first = ask(user, bot, metadata_filter={"year": {"lt": 2024}})
    conversation = first.conversation
    assert Conversation.objects.get(pk=conversation.pk).metadata_filter == {"year": {"lt": 2024}}
    follow_up = ask(user, bot, conversation_id=conversation.pk, message="And the reserves again?")
    assert cited(follow_up) == ["full-doc.md"]
    switched = ask(user, bot, conversation_id=conversation.pk, metadata_filter={"program": "DSCR"})
    assert cited(switched) == ["dscr.md"]
    assert cited(ask(user, bot, conversation_id=conversation.pk, message="Reserves?")) == ["dscr.md"]
    lifted = ask(user, bot, conversation_id=conversation.pk, metadata_filter={})
    assert cited(lifted) == ["dscr.md", "full-doc.md"]


def test_the_bots_default_filter_applies_unless_the_turn_or_conversation_sends_one(user, bot):
    bot_services.bot_update(user=user, bot=bot, default_filter={"program": "Full Doc"})
    bot.refresh_from_db()
    assert cited(ask(user, bot)) == ["full-doc.md"]
    assert cited(ask(user, bot, metadata_filter={"program": "DSCR"})) == ["dscr.md"]
    assert cited(ask(user, bot, metadata_filter={})) == ["dscr.md", "full-doc.md"]


def test_a_filter_that_matches_nothing_gets_the_no_knowledge_answer(user, bot):
    result = ask(user, bot, metadata_filter={"program": "Bank Statement"})
    assert result.assistant_message.content == NOTHING_FOUND["en"]
    assert cited(result) == []


def test_a_bad_filter_is_a_400_naming_it_with_nothing_stored(token, user, bot):
    for bad, names_it in [
        ({"programme": "DSCR"}, "programme"),
        ({"year": {"gte": "soon"}}, "gte"),
        ("not json", "JSON object"),
        ([{"program": "DSCR"}], "JSON object"),
    ]:
        status, _, [body] = stream_chat(
            token, {"bot": str(bot.pk), "message": QUESTION, "metadata_filter": bad}
        )
        assert status == 400, body
        assert names_it in body["error"]["message"]
        assert list(body["error"]["fields"]) == ["metadata_filter"]
    assert not Conversation.objects.filter(user=user).exists()
    assert not Message.objects.exists()


def test_the_stream_and_the_stored_answer_carry_citation_metadata(token, user, bot):
    status, _, events = stream_chat(
        token, {"bot": str(bot.pk), "message": QUESTION, "metadata_filter": {"program": {"in": ["DSCR"]}}}
    )
    assert status == 200
    [citations] = [event for event in events if event["type"] == "citations"]
    assert [(c["source_name"], c["metadata"]) for c in citations["citations"]] == [
        ("dscr.md", {"program": "DSCR", "year": 2024})
    ]
    conversation_id = events[0]["conversation_id"]
    from django.test import Client

    client = Client(headers={"Authorization": f"Bearer {token}"})
    messages = client.get(f"/api/v1/conversations/{conversation_id}/messages").json()
    items = messages["results"] if isinstance(messages, dict) else messages
    [answer] = [item for item in items if item["role"] == "assistant"]
    assert answer["citations"][0]["metadata"] == {"program": "DSCR", "year": 2024}


def test_another_users_documents_never_match(user, other_user, bot):
    theirs = make_bot(owner=other_user, language="en", is_public=True)
    make_indexed_document(
        bot=theirs, text="The minimum reserves are twelve months.", name="theirs.md", metadata={"region": "x"}
    )
    # Their key is unknown to this bot, and their program value finds nothing here.
    with pytest.raises(InvalidInput, match="Unknown metadata key 'region'"):
        ask(user, bot, metadata_filter={"region": "x"})
    make_indexed_document(
        bot=theirs, text="Reserves: twelve months.", name="theirs-2.md", metadata={"program": "Z"}
    )
    result = ask(user, bot, metadata_filter={"program": "Z"})
    assert cited(result) == [] and result.assistant_message.content == NOTHING_FOUND["en"]

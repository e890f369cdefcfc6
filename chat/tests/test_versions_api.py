"""Regenerate an answer, edit and resend a question, the versions of a turn, and export."""

from __future__ import annotations

import json

import pytest

from accounts.models import Plan
from accounts.services import auth_tokens_issue
from accounts.tests.test_auth_api import assert_error
from bots.tests.factories import make_bot
from chat.models import Conversation, Feedback, Message, Run
from chat.tests.helpers import add_knowledge, stream_chat

pytestmark = pytest.mark.django_db

HANDBOOK = (
    "Refund policy. Customers may ask for a refund within 30 days of purchase. "
    "Refunds are paid back to the original card within five working days.\n\n"
    "Office hours. The support office is open from 9:00 to 17:00, Monday to Friday."
)
LOCAL_MODELS = [{"provider": "local", "model_id": "local"}, {"provider": "local", "model_id": "local-alt"}]


@pytest.fixture
def bot(user):
    bot = make_bot(owner=user, configs=LOCAL_MODELS, name_es="Helper")
    add_knowledge(bot, "handbook.md", HANDBOOK)
    return bot


@pytest.fixture
def token(user):
    return auth_tokens_issue(user=user).access


@pytest.fixture
def other_token(other_user):
    return auth_tokens_issue(user=other_user).access


def auth(api_client, token):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api_client


def ask(api_client, token, bot, message, conversation=None):
    body = {"bot": str(bot.pk), "message": message, "stream": False}
    if conversation:
        body["conversation"] = str(conversation)
    response = auth(api_client, token).post("/api/v1/chat", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def regenerate(api_client, token, message_id, **body):
    return auth(api_client, token).post(
        f"/api/v1/chat/{message_id}/regenerate", {"stream": False, **body}, format="json"
    )


def edit(api_client, token, message_id, message, **body):
    return auth(api_client, token).post(
        f"/api/v1/chat/{message_id}/edit", {"stream": False, "message": message, **body}, format="json"
    )


def shown(api_client, token, conversation_id):
    response = auth(api_client, token).get(f"/api/v1/conversations/{conversation_id}/messages")
    assert response.status_code == 200
    return response.json()["results"]


class TestRegenerate:
    def test_a_regenerated_answer_is_the_shown_version_of_its_turn(self, api_client, token, bot, user):
        first = ask(api_client, token, bot, "How many days do I have to ask for a refund?")
        conversation_id = first["conversation"]["id"]
        old_answer = first["assistant_message"]["id"]

        response = regenerate(api_client, token, old_answer)
        assert response.status_code == 201, response.content
        body = response.json()
        new_answer = body["assistant_message"]
        assert new_answer["id"] != old_answer and "30 days" in new_answer["content"]
        assert body["user_message"]["id"] == first["user_message"]["id"]
        assert new_answer["version_count"] == 2

        messages = shown(api_client, token, conversation_id)
        assert [(m["role"], m["id"]) for m in messages] == [
            ("user", first["user_message"]["id"]),
            ("assistant", new_answer["id"]),
        ]
        assert [m["version_count"] for m in messages] == [1, 2]
        # Stored, not deleted; counted as a message and as a run of its own.
        assert Message.objects.filter(conversation_id=conversation_id).count() == 3
        assert Conversation.objects.get(pk=conversation_id).message_count == 3
        assert Run.objects.filter(user=user).count() == 2

        versions = (
            auth(api_client, token).get(f"/api/v1/messages/{new_answer['id']}/versions").json()["versions"]
        )
        assert [(v["id"], v["version"], v["current"]) for v in versions] == [
            (old_answer, 1, False),
            (new_answer["id"], 2, True),
        ]

    def test_it_streams_like_a_new_message(self, api_client, token, bot):
        first = ask(api_client, token, bot, "How many days do I have to ask for a refund?")
        answer_id = first["assistant_message"]["id"]
        status, headers, events = stream_chat(token, {}, path=f"/api/v1/chat/{answer_id}/regenerate")
        assert status == 200 and headers["content-type"] == "text/event-stream"
        types = [event["type"] for event in events]
        assert types[0] == "session_init" and types[-2:] == ["citations", "done"]
        assert events[0]["user_message_id"] == first["user_message"]["id"]
        assert events[0]["message_id"] == events[-1]["message_id"] != answer_id
        assert str(Message.objects.get(pk=answer_id).replaced_by_id) == events[-1]["message_id"]

    def test_another_model_of_the_toolbox_can_answer(self, api_client, token, bot):
        first = ask(api_client, token, bot, "When is the office open?")
        assert first["assistant_message"]["model"] == "local"
        response = regenerate(
            api_client, token, first["assistant_message"]["id"], model="local-alt", task_type="complex"
        )
        assert response.status_code == 201
        assert response.json()["assistant_message"]["model"] == "local-alt"
        assert Run.objects.order_by("-created_at").first().task_type == "complex"

    def test_regenerating_an_earlier_answer_leaves_the_later_turns_in_an_earlier_branch(
        self, api_client, token, bot
    ):
        first = ask(api_client, token, bot, "How many days do I have to ask for a refund?")
        conversation_id = first["conversation"]["id"]
        second = ask(api_client, token, bot, "When is the office open?", conversation_id)
        new = regenerate(api_client, token, first["assistant_message"]["id"]).json()["assistant_message"]
        assert [m["id"] for m in shown(api_client, token, conversation_id)] == [
            first["user_message"]["id"],
            new["id"],
        ]
        [old, _current] = (
            auth(api_client, token).get(f"/api/v1/messages/{new['id']}/versions").json()["versions"]
        )
        assert [m["id"] for m in old["following"]] == [
            second["user_message"]["id"],
            second["assistant_message"]["id"],
        ]

    def test_the_model_history_follows_the_shown_branch(self, api_client, token, bot, monkeypatch):
        from chat.services import engine

        first = ask(api_client, token, bot, "How many days do I have to ask for a refund?")
        conversation_id = first["conversation"]["id"]
        regenerate(api_client, token, first["assistant_message"]["id"])
        seen = []
        original = engine.chat_events

        async def spy(turn):
            seen.append([message.role for message in turn.history])
            async for event in original(turn):
                yield event

        monkeypatch.setattr(engine, "chat_events", spy)
        ask(api_client, token, bot, "When is the office open?", conversation_id)
        # One question, one (the newest) answer, the new question: not both answers.
        assert seen == [["user", "assistant", "user"]]

    def test_each_regeneration_counts_against_the_message_limit(self, api_client, token, bot, user):
        user.plan = Plan.objects.create(name="Small", max_messages_per_conversation=3)
        user.save()
        first = ask(api_client, token, bot, "How many days do I have to ask for a refund?")
        second = regenerate(api_client, token, first["assistant_message"]["id"])
        assert second.status_code == 201
        third = regenerate(api_client, token, second.json()["assistant_message"]["id"])
        assert_error(third, 409, "MESSAGE_LIMIT")
        assert Message.objects.count() == 3

    def test_the_message_rate_limit_counts_regenerations(self, api_client, token, bot, user):
        user.plan = Plan.objects.create(name="Slow", messages_per_minute=1)
        user.save()
        first = ask(api_client, token, bot, "How many days do I have to ask for a refund?")
        response = regenerate(api_client, token, first["assistant_message"]["id"])
        assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
        assert Message.objects.count() == 2

    def test_a_replaced_answer_cannot_be_regenerated(self, api_client, token, bot):
        first = ask(api_client, token, bot, "How many days do I have to ask for a refund?")
        assert regenerate(api_client, token, first["assistant_message"]["id"]).status_code == 201
        response = regenerate(api_client, token, first["assistant_message"]["id"])
        assert_error(response, 409, "MESSAGE_REPLACED")

    def test_bad_inputs_are_refused_and_nothing_is_stored(self, api_client, token, bot):
        first = ask(api_client, token, bot, "How many days do I have to ask for a refund?")
        answer_id, question_id = first["assistant_message"]["id"], first["user_message"]["id"]
        assert_error(regenerate(api_client, token, answer_id, model="gpt-unknown"), 400, "VALIDATION_ERROR")
        assert_error(regenerate(api_client, token, answer_id, task_type="poetry"), 400, "VALIDATION_ERROR")
        assert_error(regenerate(api_client, token, answer_id, stream="often"), 400, "VALIDATION_ERROR")
        # A question is not an answer.
        assert_error(regenerate(api_client, token, question_id), 404, "NOT_FOUND")
        not_json = auth(api_client, token).post(
            f"/api/v1/chat/{answer_id}/regenerate", "x", content_type="text/plain"
        )
        assert not_json.status_code == 415
        assert Message.objects.count() == 2
        assert Conversation.objects.get().message_count == 2

    def test_it_hides_another_users_answer(self, api_client, token, other_token, bot):
        first = ask(api_client, token, bot, "How many days do I have to ask for a refund?")
        response = regenerate(api_client, other_token, first["assistant_message"]["id"])
        assert_error(response, 404, "NOT_FOUND")
        versions = auth(api_client, other_token).get(
            f"/api/v1/messages/{first['assistant_message']['id']}/versions"
        )
        assert_error(versions, 404, "NOT_FOUND")
        assert Message.objects.count() == 2

    def test_it_needs_a_token(self, api_client, token, bot):
        first = ask(api_client, token, bot, "How many days do I have to ask for a refund?")
        api_client.credentials()
        response = api_client.post(
            f"/api/v1/chat/{first['assistant_message']['id']}/regenerate", {}, format="json"
        )
        assert response.status_code == 401


class TestEdit:
    def test_an_edited_question_is_answered_and_the_earlier_branch_hidden(self, api_client, token, bot):
        first = ask(api_client, token, bot, "When is the office open?")
        conversation_id = first["conversation"]["id"]
        second = ask(api_client, token, bot, "Is it open on Monday?", conversation_id)

        response = edit(
            api_client, token, first["user_message"]["id"], "How many days do I have for a refund?"
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["user_message"]["content"] == "How many days do I have for a refund?"
        assert body["user_message"]["version_count"] == 2
        assert "30 days" in body["assistant_message"]["content"]

        messages = shown(api_client, token, conversation_id)
        assert [m["id"] for m in messages] == [body["user_message"]["id"], body["assistant_message"]["id"]]
        assert [m["version_count"] for m in messages] == [2, 1]
        # The earlier branch is kept.
        assert Message.objects.filter(conversation_id=conversation_id).count() == 6
        versions = (
            auth(api_client, token).get(f"/api/v1/messages/{body['user_message']['id']}/versions").json()
        )
        [old, new] = versions["versions"]
        assert old["content"] == "When is the office open?" and not old["current"] and new["current"]
        assert [m["id"] for m in old["following"]] == [
            first["assistant_message"]["id"],
            second["user_message"]["id"],
            second["assistant_message"]["id"],
        ]
        assert new["following"] == []

    def test_it_streams_with_the_new_question(self, api_client, token, bot):
        first = ask(api_client, token, bot, "When is the office open?")
        status, _headers, events = stream_chat(
            token, {"message": "Refund days?"}, path=f"/api/v1/chat/{first['user_message']['id']}/edit"
        )
        assert status == 200 and events[-1]["type"] == "done"
        edited = Message.objects.get(pk=events[0]["user_message_id"])
        assert edited.content == "Refund days?" and str(edited.version_of_id) == first["user_message"]["id"]

    def test_an_edit_takes_two_places_under_the_message_limit(self, api_client, token, bot, user):
        user.plan = Plan.objects.create(name="Small", max_messages_per_conversation=3)
        user.save()
        first = ask(api_client, token, bot, "When is the office open?")
        response = edit(api_client, token, first["user_message"]["id"], "Refund days?")
        assert_error(response, 409, "MESSAGE_LIMIT")
        assert [m["id"] for m in shown(api_client, token, first["conversation"]["id"])] == [
            first["user_message"]["id"],
            first["assistant_message"]["id"],
        ]

    def test_bad_inputs_are_refused_and_nothing_is_stored(self, api_client, token, bot, settings):
        first = ask(api_client, token, bot, "When is the office open?")
        question_id = first["user_message"]["id"]
        assert_error(edit(api_client, token, question_id, "   "), 400, "VALIDATION_ERROR")
        settings.MAX_MESSAGE_CHARS = 10
        assert_error(edit(api_client, token, question_id, "x" * 11), 400, "VALIDATION_ERROR")
        assert_error(
            edit(api_client, token, question_id, "fine", task_type="poetry"), 400, "VALIDATION_ERROR"
        )
        missing = auth(api_client, token).post(
            f"/api/v1/chat/{question_id}/edit", {"stream": False}, format="json"
        )
        assert_error(missing, 400, "VALIDATION_ERROR")
        # An answer is not a question.
        assert_error(edit(api_client, token, first["assistant_message"]["id"], "fine"), 404, "NOT_FOUND")
        assert Message.objects.count() == 2
        assert Conversation.objects.get().message_count == 2

    def test_a_replaced_question_cannot_be_edited(self, api_client, token, bot):
        first = ask(api_client, token, bot, "When is the office open?")
        assert edit(api_client, token, first["user_message"]["id"], "Refund days?").status_code == 201
        assert_error(edit(api_client, token, first["user_message"]["id"], "Again?"), 409, "MESSAGE_REPLACED")

    def test_an_archived_conversation_refuses_edits(self, api_client, token, bot):
        first = ask(api_client, token, bot, "When is the office open?")
        Conversation.objects.update(archived=True)
        assert_error(
            edit(api_client, token, first["user_message"]["id"], "Refund?"), 409, "CONVERSATION_ARCHIVED"
        )
        assert Message.objects.count() == 2

    def test_it_hides_another_users_question(self, api_client, token, other_token, bot):
        first = ask(api_client, token, bot, "When is the office open?")
        assert_error(edit(api_client, other_token, first["user_message"]["id"], "Mine now"), 404, "NOT_FOUND")
        assert Message.objects.count() == 2


class TestExport:
    @pytest.fixture
    def rated(self, api_client, token, bot, user):
        first = ask(api_client, token, bot, "How many days do I have to ask for a refund?")
        Feedback.objects.create(
            message_id=first["assistant_message"]["id"], user=user, rating="thumbs_up", comment="Clear answer"
        )
        return first

    def test_json_has_messages_citations_and_feedback(self, api_client, token, rated):
        response = auth(api_client, token).get(f"/api/v1/conversations/{rated['conversation']['id']}/export")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response["Content-Disposition"].startswith('attachment; filename="how-many-days')
        body = json.loads(response.content)
        assert body["conversation"]["id"] == rated["conversation"]["id"] and body["bot"]["name"] == "Helper"
        [question, answer] = body["messages"]
        assert question["content"] == "How many days do I have to ask for a refund?"
        assert question["feedback"] is None
        assert answer["citations"][0]["source_name"] == "handbook.md"
        assert answer["feedback"] == {"rating": "thumbs_up", "comment": "Clear answer"}

    def test_markdown_reads_as_the_conversation(self, api_client, token, rated):
        response = auth(api_client, token).get(
            f"/api/v1/conversations/{rated['conversation']['id']}/export?format=md"
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "text/markdown; charset=utf-8"
        assert response["Content-Disposition"].endswith('.md"')
        text = response.content.decode()
        assert text.startswith("# How many days do I have to ask for a refund?\n")
        assert "## You · " in text and "## Helper · " in text
        assert rated["assistant_message"]["content"].strip() in text
        assert "1. handbook.md" in text
        assert "**Your feedback:** 👍 thumbs up — Clear answer" in text

    def test_only_the_shown_branch_is_exported(self, api_client, token, rated):
        new = regenerate(api_client, token, rated["assistant_message"]["id"]).json()["assistant_message"]
        body = (
            auth(api_client, token).get(f"/api/v1/conversations/{rated['conversation']['id']}/export").json()
        )
        assert [m["id"] for m in body["messages"]] == [rated["user_message"]["id"], new["id"]]
        assert body["messages"][1]["version_count"] == 2

    def test_an_unknown_format_is_bad_input(self, api_client, token, rated):
        response = auth(api_client, token).get(
            f"/api/v1/conversations/{rated['conversation']['id']}/export?format=pdf"
        )
        assert_error(response, 400, "VALIDATION_ERROR")

    def test_it_hides_another_users_conversation(self, api_client, other_token, rated):
        response = auth(api_client, other_token).get(
            f"/api/v1/conversations/{rated['conversation']['id']}/export?format=md"
        )
        assert_error(response, 404, "NOT_FOUND")

"""Regenerations and edits under parallel requests, on PostgreSQL where they really run in
parallel: the plan's message limit holds, and one turn shows exactly one version."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from bots.tests.factories import make_bot
from chat.models import Conversation, Message
from chat.tests.test_limits_concurrency import at_once, statuses, with_plan

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def client_for(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def first_turn(token: str, bot) -> dict:
    response = client_for(token).post(
        "/api/v1/chat", {"bot": str(bot.pk), "message": "hello there", "stream": False}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_parallel_regenerations_never_pass_the_message_limit(user):
    token = with_plan(user, max_messages_per_conversation=5)
    bot = make_bot(owner=user)
    first = first_turn(token, bot)
    answer_id = first["assistant_message"]["id"]

    responses = at_once(
        12,
        lambda _: client_for(token).post(
            f"/api/v1/chat/{answer_id}/regenerate", {"stream": False}, format="json"
        ),
    )
    # Two places are the first turn's: three regenerations fit. Fewer may be stored: one
    # that reserves after another has finished finds the answer replaced (and holds no
    # place), which fast turns make likely.
    created = statuses(responses).count(201)
    assert 1 <= created <= 3
    assert set(statuses(responses)) <= {201, 409}
    codes = {response.json()["error"]["code"] for response in responses if response.status_code == 409}
    assert codes <= {"MESSAGE_LIMIT", "MESSAGE_REPLACED"}
    assert created == 3 or "MESSAGE_REPLACED" in codes
    conversation = Conversation.objects.get()
    assert conversation.message_count == 2 + created <= 5
    assert Message.objects.filter(conversation=conversation).count() == 2 + created
    # However they interleaved, the turn shows one answer: the newest version.
    shown = Message.objects.filter(conversation=conversation, role="assistant", replaced_by__isnull=True)
    assert shown.count() == 1
    assert shown.get().created_at == Message.objects.filter(role="assistant").latest("created_at").created_at
    listed = client_for(token).get(f"/api/v1/conversations/{conversation.pk}/messages").json()["results"]
    assert [message["version_count"] for message in listed] == [1, 1 + created]


def test_parallel_edits_of_one_question_keep_one_version(user):
    token = with_plan(user)
    bot = make_bot(owner=user)
    first = first_turn(token, bot)
    question_id = first["user_message"]["id"]

    responses = at_once(
        8,
        lambda index: client_for(token).post(
            f"/api/v1/chat/{question_id}/edit", {"message": f"edit {index}", "stream": False}, format="json"
        ),
    )
    assert statuses(responses).count(201) == 1
    assert {response.json()["error"]["code"] for response in responses if response.status_code == 409} == {
        "MESSAGE_REPLACED"
    }
    conversation = Conversation.objects.get()
    # The first turn, and the one edit with its answer: nothing half-stored by the refused.
    assert conversation.message_count == 4
    assert Message.objects.filter(conversation=conversation).count() == 4
    shown = list(
        Message.objects.filter(conversation=conversation, replaced_by__isnull=True).values_list(
            "role", flat=True
        )
    )
    assert shown == ["user", "assistant"]

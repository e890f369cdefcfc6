"""Champions' CONVERSATION_LIMIT counts active conversations: archiving one frees a place."""

from __future__ import annotations

import pytest

from accounts.models import Plan
from bytchat.compat.champions.tests import test_contract
from bytchat.compat.champions.tests.helpers import stream_chat, url
from chat.models import Conversation

pytestmark = pytest.mark.django_db

# The contract tests' fixtures and helpers.
_email_domain_policy = test_contract._email_domain_policy
assistant = test_contract.assistant
rep = test_contract.rep
rep_client = test_contract.rep_client
token = test_contract.token
EXAMPLE_CHAT = test_contract.EXAMPLE_CHAT


def test_at_the_limit_archiving_one_frees_a_place(rep, rep_client, assistant):
    rep.plan = Plan.objects.create(name="Two per bot", max_conversations_per_bot=2)
    rep.save()
    for _ in range(2):
        assert stream_chat(token(rep), EXAMPLE_CHAT)[0] == 200
    status, _, error = stream_chat(token(rep), EXAMPLE_CHAT)
    assert status == 400 and error["detail"]["code"] == "CONVERSATION_LIMIT"
    assert Conversation.objects.count() == 2  # nothing deleted: Champions has no eviction

    oldest = Conversation.objects.order_by("created_at").first()
    archive = rep_client.post(url(f"conversations/{oldest.pk}/archive"), {"archived": True}, format="json")
    assert archive.status_code == 200
    status, _, events = stream_chat(token(rep), EXAMPLE_CHAT)
    assert status == 200 and events[-1]["type"] == "done"
    assert Conversation.objects.filter(archived=False).count() == 2
    assert Conversation.objects.count() == 3

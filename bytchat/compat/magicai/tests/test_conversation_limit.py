"""MagicAI's confirm-then-evict counts active conversations only."""

from __future__ import annotations

import pytest

from accounts.models import Plan
from analytics.tests.factories import make_conversation
from bytchat.compat.magicai.tests import test_contract
from bytchat.compat.magicai.tests.helpers import url
from chat.models import Conversation
from chat.services.conversations import conversation_set_archived

pytestmark = pytest.mark.django_db

# The contract tests' fixtures.
writing = test_contract.writing
agent = test_contract.agent


def test_archived_conversations_do_not_ask_for_an_eviction(user_client, user, agent):
    user.plan = Plan.objects.create(name="Tiny", max_conversations_per_bot=2)
    user.save()
    archived = make_conversation(user=user, bot=agent, title="Archivada")
    conversation_set_archived(conversation=archived, archived=True)
    make_conversation(user=user, bot=agent, title="Activa")
    request = {"agentId": str(agent.pk), "title": "Nueva", "confirmDelete": False}
    response = user_client.post(url("conversations"), request, format="json")
    assert response.status_code == 201, response.json()
    assert Conversation.objects.filter(user=user).count() == 3

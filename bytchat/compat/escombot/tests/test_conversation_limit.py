"""ESCOMBOT cannot delete or archive: at the plan's limit a new chat archives the oldest."""

from __future__ import annotations

import pytest

from accounts.models import Plan
from bytchat.compat.escombot.tests.helpers import create_chat, url
from chat.models import Conversation

pytestmark = pytest.mark.django_db


def test_a_new_chat_at_the_limit_archives_the_oldest(client_logged_in, doc_user):
    doc_user.plan = Plan.objects.create(name="Dos chats", max_conversations_per_bot=2)
    doc_user.save()
    first = create_chat(client_logged_in, "Primero")
    second = create_chat(client_logged_in, "Segundo")
    third = create_chat(client_logged_in, "Tercero")
    listed = [chat["id"] for chat in client_logged_in.get(url("chats")).json()["chats"]]
    assert sorted(listed) == sorted([second["id"], third["id"]])
    oldest = Conversation.objects.get(pk=first["id"])
    assert oldest.archived and oldest.messages.count() == oldest.message_count  # kept, not deleted


def test_the_active_limit_archives_too(client_logged_in, doc_user):
    doc_user.plan = Plan.objects.create(name="Un chat activo", max_active_conversations=1)
    doc_user.save()
    for title in ("Uno", "Dos", "Tres"):
        create_chat(client_logged_in, title)
    assert Conversation.objects.filter(archived=False).count() == 1
    assert Conversation.objects.count() == 3

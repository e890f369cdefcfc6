"""Which bot answers as ESCOMBOT (ESCOMBOT_BOT_ID, else the oldest public platform bot)."""

from __future__ import annotations

import pytest

from bots.tests.factories import make_bot
from bytchat.compat.escombot.tests.helpers import create_chat, url
from chat.models import Conversation

pytestmark = pytest.mark.django_db


def test_the_oldest_public_platform_bot_answers_by_default(client_logged_in, escombot, doc_user):
    make_bot(owner=None, is_public=True)  # newer
    make_bot(owner=doc_user)  # the user's own
    chat = create_chat(client_logged_in)
    assert Conversation.objects.get(pk=chat["id"]).bot == escombot


def test_the_setting_names_the_bot(client_logged_in, settings):
    chosen = make_bot(owner=None, is_public=True)
    settings.ESCOMBOT_BOT_ID = str(chosen.pk)
    chat = create_chat(client_logged_in)
    assert Conversation.objects.get(pk=chat["id"]).bot == chosen


def test_a_bot_the_user_may_not_see_is_never_used(client_logged_in, settings):
    hidden = make_bot(owner=None, is_public=False)
    settings.ESCOMBOT_BOT_ID = str(hidden.pk)
    response = client_logged_in.post(url("chats"), {"title": "Hola"}, content_type="application/json")
    assert response.status_code == 503
    assert response.json() == {"error": "ESCOMBOT no está disponible"}
    assert client_logged_in.get(url("chats")).json() == {"chats": []}
    assert not Conversation.objects.exists()

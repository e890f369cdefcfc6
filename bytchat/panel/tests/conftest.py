from __future__ import annotations

import pytest
from django.test import Client

from accounts.tests.factories import PASSWORD
from bots.tests.factories import make_bot
from chat.models import Conversation
from chat.tests.helpers import add_knowledge


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploaded files go to a directory of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def session_for(user, *, enforce_csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf)
    client.force_login(user)
    return client


@pytest.fixture
def panel(user) -> Client:
    return session_for(user)


@pytest.fixture
def other_panel(other_user) -> Client:
    return session_for(other_user)


@pytest.fixture
def bot(user):
    bot = make_bot(owner=user, name_en="Handbook helper", language="en")
    add_knowledge(bot, "handbook.txt", "Refunds are paid within 30 days of the request.")
    return bot


@pytest.fixture
def conversation(user, bot):
    return Conversation.objects.create(user=user, bot=bot, title="About refunds")


@pytest.fixture
def password() -> str:
    return PASSWORD

"""Fixtures for the ESCOMBOT API tests: the ESCOMBOT bot, the document's user, clients."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.tests.factories import make_user
from bots.tests.factories import make_bot
from bytchat.compat.escombot.tests.helpers import EMAIL, KNOWLEDGE, PASSWORD, login
from chat.tests.helpers import add_knowledge


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every test logs in through the endpoint; Argon2 would make that the slow part.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def escombot(db):
    """The public platform bot that answers as ESCOMBOT, with a little knowledge."""
    bot = make_bot(owner=None, is_public=True, language="es", name_es="ESCOMBOT")
    add_knowledge(bot, "servicios-escolares.md", KNOWLEDGE)
    return bot


@pytest.fixture
def doc_user(db):
    """The user of the document's examples (test@example.com / password123)."""
    return make_user(email=EMAIL, password=PASSWORD, full_name="Usuario Prueba")


@pytest.fixture
def client_logged_in(doc_user, escombot) -> Client:
    client = Client()
    assert login(client).status_code == 200
    return client


@pytest.fixture
def other_browser(escombot) -> Client:
    """A second user, logged in: they must never see the first one's chats."""
    make_user(email="otro@example.com", password=PASSWORD)
    client = Client()
    assert login(client, "otro@example.com").status_code == 200
    return client

"""The URL patterns are relative: the API works wherever the prefix setting mounts it."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from bytchat.compat.escombot.tests.helpers import EMAIL, PASSWORD

pytestmark = pytest.mark.django_db


@override_settings(ROOT_URLCONF="bytchat.compat.escombot.tests.remounted_urls")
def test_the_api_answers_at_another_prefix(doc_user, escombot):
    client = Client()
    login = client.post("/api/login", {"email": EMAIL, "password": PASSWORD}, content_type="application/json")
    assert login.status_code == 200
    created = client.post("/api/chats", {"title": "Hola"}, content_type="application/json")
    assert created.status_code == 201
    assert client.get("/api/chats").json()["chats"][0]["id"] == created.json()["chat"]["id"]

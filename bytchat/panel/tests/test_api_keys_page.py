"""The panel's API keys page: create (the secret shown once), list, revoke; nobody else's."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from bots.tests.factories import make_bot
from chat.models import ApiKey
from chat.services.api_keys import api_key_authenticate, api_key_create

pytestmark = pytest.mark.django_db

PAGE = reverse("panel:api-keys")


def session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_create_shows_the_secret_once_then_lists_it_masked(user):
    bot = make_bot(owner=user, name_en="Handbook")
    client = session(user)
    response = client.post(PAGE, {"name": "editor plugin", "bots": [str(bot.pk)], "requests_per_minute": "5"})
    assert response.status_code == 200
    html = response.content.decode()
    key = ApiKey.objects.get()
    secret = html.split("data-secret>")[1].split("<")[0]
    assert secret.startswith(f"bc_{key.prefix}_") and api_key_authenticate(secret=secret) == key
    assert key.all_bots is False and list(key.bots.all()) == [bot] and key.requests_per_minute == 5
    again = client.get(PAGE).content.decode()
    assert secret not in again and key.masked in again and "editor plugin" in again and "Handbook" in again
    # The new key answers through the OpenAI-compatible API.
    answer = Client().post(
        "/openai/v1/chat/completions",
        json.dumps({"model": str(bot.pk), "messages": [{"role": "user", "content": "Hi"}]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert answer.status_code == 200


def test_bad_input_is_shown_on_the_form_and_nothing_is_stored(user, other_user):
    client = session(user)
    response = client.post(PAGE, {"name": ""})
    assert response.status_code == 200 and ApiKey.objects.count() == 0
    foreign = make_bot(owner=other_user)
    response = client.post(PAGE, {"name": "x", "bots": [str(foreign.pk)]})
    assert response.status_code == 200 and ApiKey.objects.count() == 0
    response = client.post(PAGE, {"name": "x", "expires_at": "2001-01-01T00:00"})
    assert "Give a future date." in response.content.decode() and ApiKey.objects.count() == 0


def test_revoke_and_another_users_key_is_not_found(user, other_user):
    user.language = "en"
    user.save()
    mine = api_key_create(user=user, name="mine").key
    theirs = api_key_create(user=other_user, name="theirs").key
    client = session(user)
    assert "theirs" not in client.get(PAGE).content.decode()
    response = client.post(reverse("panel:api-key-revoke", args=[theirs.pk]))
    assert response.status_code == 404
    assert ApiKey.objects.get(pk=theirs.pk).revoked_at is None
    response = client.post(reverse("panel:api-key-revoke", args=[mine.pk]))
    assert response.status_code == 302
    assert ApiKey.objects.get(pk=mine.pk).revoked_at is not None
    assert "Revoked" in client.get(PAGE).content.decode()


def test_the_page_needs_a_login():
    response = Client().get(PAGE)
    assert response.status_code == 302 and reverse("panel:login") in response["Location"]

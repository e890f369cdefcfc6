"""Runs split and filtered by channel, and usage per API key: the analytics API, the admin
dashboard and the run list. Runs come from the real surfaces (the engine records them)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from bots.tests.factories import make_bot
from chat.models import ApiKey, Channel, Run
from chat.services.api_keys import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def _openai(secret: str, bot) -> None:
    response = Client().post(
        "/openai/v1/chat/completions",
        json.dumps({"model": str(bot.pk), "messages": [{"role": "user", "content": "Hi there"}]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200


@pytest.fixture
def traffic(user, user_client):
    """Two native API runs, three OpenAI runs with two keys, one panel run."""
    bot = make_bot(owner=user)
    for _ in range(2):
        assert (
            user_client.post(
                "/api/v1/chat", {"bot": str(bot.pk), "message": "Hello", "stream": False}, format="json"
            ).status_code
            == 201
        )
    first = api_key_create(user=user, name="first")
    second = api_key_create(user=user, name="second")
    for secret in (first.secret, first.secret, second.secret):
        _openai(secret, bot)
    panel = Client()
    panel.force_login(user)
    response = panel.post(
        "/app/api/chat",
        json.dumps({"bot": str(bot.pk), "message": "Hello", "stream": False}),
        content_type="application/json",
    )
    assert response.status_code == 201
    return first.key, second.key


def test_every_surface_records_its_channel(traffic):
    counts = {row["channel"]: row["n"] for row in _channel_counts()}
    assert counts == {Channel.NATIVE: 2, Channel.OPENAI: 3, Channel.PANEL: 1}
    assert Run.objects.filter(channel=Channel.NATIVE, api_key__isnull=False).count() == 0


def _channel_counts():
    from django.db.models import Count

    return Run.objects.values("channel").annotate(n=Count("pk"))


def test_the_api_splits_and_filters_by_channel(traffic, manager_client, user_client):
    body = manager_client.get("/api/v1/analytics/channels?days=7").json()
    rows = {row["channel"]: row for row in body["results"]}
    assert [row["channel"] for row in body["results"]] == ["openai", "native", "panel"]
    assert rows["openai"]["runs"] == 3 and rows["openai"]["label"] == "OpenAI-compatible API"
    assert rows["openai"]["tokens"] == rows["openai"]["input_tokens"] + rows["openai"]["output_tokens"] > 0
    assert rows["native"]["active_users"] == 1
    only = manager_client.get("/api/v1/analytics/channels?channel=native").json()["results"]
    assert [row["channel"] for row in only] == ["native"] and only[0]["runs"] == 2
    assert manager_client.get("/api/v1/analytics/channels?channel=fax").status_code == 400
    runs = manager_client.get("/api/v1/analytics/runs?channel=openai").json()["results"]
    assert len(runs) == 3 and {run["channel"] for run in runs} == {"openai"}
    first, _ = traffic
    by_key = manager_client.get(f"/api/v1/analytics/runs?api_key={first.pk}").json()["results"]
    assert len(by_key) == 2 and {run["api_key_id"] for run in by_key} == {str(first.pk)}
    # Staff only.
    assert user_client.get("/api/v1/analytics/channels").status_code == 403
    assert user_client.get("/api/v1/analytics/api-keys").status_code == 403


def test_the_api_shows_usage_per_key(traffic, manager_client):
    first, second = traffic
    api_key_revoke(key=second)
    rows = manager_client.get("/api/v1/analytics/api-keys?days=1").json()["results"]
    assert [(row["name"], row["runs"], row["active"]) for row in rows] == [
        ("first", 2, True),
        ("second", 1, False),
    ]
    assert rows[0]["prefix"] == first.masked and rows[0]["user_email"] == first.user.email
    expected = Run.objects.filter(api_key=first)
    assert rows[0]["tokens"] == sum(run.tokens_used for run in expected)
    assert "secret" not in json.dumps(rows)


def test_the_dashboard_shows_channels_and_keys(traffic, manager):
    client = Client()
    client.force_login(manager)
    html = client.get("/admin/analytics/dashboard/").content.decode()
    assert "Runs by channel" in html and "OpenAI-compatible API" in html and "Native API" in html
    assert "Usage per API key" in html and ">first</a>" in html
    filtered = client.get("/admin/chat/run/?channel__exact=openai")
    assert filtered.status_code == 200


def test_admins_revoke_keys_managers_only_look(traffic, manager, admin_user):
    first, _ = traffic
    client = Client()
    client.force_login(manager)
    listing = client.get("/admin/chat/apikey/")
    assert listing.status_code == 200 and first.masked in listing.content.decode()
    assert first.secret_hash not in listing.content.decode()
    client.post("/admin/chat/apikey/", {"action": "revoke", "_selected_action": [str(first.pk)]})
    assert ApiKey.objects.get(pk=first.pk).revoked_at is None
    client.force_login(admin_user)
    client.post("/admin/chat/apikey/", {"action": "revoke", "_selected_action": [str(first.pk)]})
    assert ApiKey.objects.get(pk=first.pk).revoked_at is not None
    assert client.get("/admin/chat/apikey/add/").status_code == 403

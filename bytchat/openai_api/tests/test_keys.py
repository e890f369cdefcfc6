"""API keys: hashing, revocation, expiry, scope, a suspended user, last use, the native
endpoints that manage them, and the OpenAI endpoints' errors (through Django's client)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Plan, UserStatus
from accounts.services import user_set_status
from accounts.tests.factories import make_user
from bots.tests.factories import make_bot
from chat.models import ApiKey, Run
from chat.services import api_keys
from chat.services.api_keys import api_key_create

pytestmark = pytest.mark.django_db

COMPLETIONS = "/openai/v1/chat/completions"


def _post(secret: str | None, body: dict):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return Client().post(COMPLETIONS, json.dumps(body), content_type="application/json", headers=headers)


def _ask(secret: str, bot, **extra):
    return _post(secret, {"model": str(bot.pk), "messages": [{"role": "user", "content": "Hello"}], **extra})


def _models(secret: str):
    return Client().get("/openai/v1/models", headers={"Authorization": f"Bearer {secret}"})


def test_the_secret_is_stored_only_as_a_hash_found_by_its_prefix(user):
    created = api_key_create(user=user, name="laptop")
    key = ApiKey.objects.get()
    assert created.secret.startswith(f"bc_{key.prefix}_")
    assert key.secret_hash == hashlib.sha256(created.secret.encode()).hexdigest()
    assert created.secret not in {str(value) for value in ApiKey.objects.values().get().values()}
    assert api_keys.api_key_authenticate(secret=created.secret) == key
    # Same prefix, another secret: refused.
    with pytest.raises(api_keys.InvalidApiKey):
        api_keys.api_key_authenticate(secret=created.secret[:-2] + "xx")
    for bad in ("", "bc_", "sk-123", f"bc_{key.prefix}", f"bc_{key.prefix}_", "bc_zzzzzzzzzzzz_abc"):
        with pytest.raises(api_keys.InvalidApiKey):
            api_keys.api_key_authenticate(secret=bad)


def test_revoked_expired_and_suspended_keys_stop_working(user):
    bot = make_bot(owner=user)
    revoked = api_key_create(user=user, name="r")
    expiring = api_key_create(user=user, name="e", expires_at=timezone.now() + timedelta(hours=1))
    assert _ask(revoked.secret, bot).status_code == 200
    api_keys.api_key_revoke(key=revoked.key)
    response = _ask(revoked.secret, bot)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert _ask(expiring.secret, bot).status_code == 200
    with mock.patch("django.utils.timezone.now", return_value=expiring.key.expires_at):
        assert _ask(expiring.secret, bot).status_code == 401  # the hour has passed
    live = api_key_create(user=user, name="l")
    user_set_status(actor=make_user(role="admin"), user=user, status=UserStatus.SUSPENDED)
    assert _ask(live.secret, bot).status_code == 401
    assert _models(live.secret).status_code == 401
    assert Run.objects.count() == 2


def test_a_key_for_bot_a_cannot_use_bot_b(user):
    bot_a, bot_b = make_bot(owner=user), make_bot(owner=user)
    scoped = api_key_create(user=user, name="a only", bot_ids=[bot_a.pk])
    assert _ask(scoped.secret, bot_a).status_code == 200
    response = _ask(scoped.secret, bot_b)
    assert response.status_code == 404
    assert response.json()["error"] == {
        "message": "The model does not exist or this API key may not use it.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
    assert [model["id"] for model in _models(scoped.secret).json()["data"]] == [str(bot_a.pk)]
    every = api_key_create(user=user, name="all")
    ids = {model["id"] for model in _models(every.secret).json()["data"]}
    assert ids == {str(bot_a.pk), str(bot_b.pk)}
    one = Client().get(f"/openai/v1/models/{bot_b.pk}", headers={"Authorization": f"Bearer {scoped.secret}"})
    assert one.status_code == 404 and one.json()["error"]["code"] == "model_not_found"


def test_a_key_cannot_manage_anything(user, api_client):
    created = api_key_create(user=user, name="k")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.secret}")
    for method, path in [
        ("get", "/api/v1/me"),
        ("get", "/api/v1/bots"),
        ("get", "/api/v1/api-keys"),
        ("post", "/api/v1/api-keys"),
        ("delete", f"/api/v1/api-keys/{created.key.pk}"),
    ]:
        assert getattr(api_client, method)(path, {"name": "x"}, format="json").status_code == 401, path
    assert ApiKey.objects.get().revoked_at is None


def test_another_users_bot_is_model_not_found(user, other_user):
    created = api_key_create(user=user, name="k")
    response = _ask(created.secret, make_bot(owner=other_user))
    assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"
    assert _ask(created.secret, type("B", (), {"pk": "not-a-uuid"})).status_code == 404


def test_last_used_at_is_written_at_most_once_a_minute(user, django_assert_num_queries):
    created = api_key_create(user=user, name="k")
    key = api_keys.api_key_authenticate(secret=created.secret)
    first = ApiKey.objects.get().last_used_at
    assert first is not None
    # Within the minute: the key read again once (its cached `last_used_at` was old), then
    # from the cache; no write.
    with django_assert_num_queries(1):
        api_keys.api_key_authenticate(secret=created.secret)
    with django_assert_num_queries(0):
        api_keys.api_key_authenticate(secret=created.secret)
    assert ApiKey.objects.get().last_used_at == first
    a_minute_later = first + timedelta(seconds=61)
    with mock.patch("django.utils.timezone.now", return_value=a_minute_later):
        api_keys.api_key_authenticate(secret=created.secret)
    assert ApiKey.objects.get(pk=key.pk).last_used_at == a_minute_later


def test_the_keys_rate_cap_must_fit_the_plan(user):
    plan = Plan.objects.create(name="Small", messages_per_minute=10)
    user.plan = plan
    user.save()
    with pytest.raises(api_keys.InvalidInput):
        api_key_create(user=user, name="k", requests_per_minute=11)
    with pytest.raises(api_keys.InvalidInput):
        api_key_create(user=user, name="k", requests_per_minute=0)
    assert api_key_create(user=user, name="k", requests_per_minute=10).key.requests_per_minute == 10
    user.plan = Plan.objects.create(name="Unlimited")
    user.save()
    with pytest.raises(api_keys.InvalidInput):  # still a number the database can hold
        api_key_create(user=user, name="k", requests_per_minute=2**40)


def test_the_plans_limits_apply_to_a_key(user):
    user.plan = Plan.objects.create(name="Tiny", monthly_token_quota=1)
    user.save()
    created = api_key_create(user=user, name="k")
    bot = make_bot(owner=user)
    assert _ask(created.secret, bot).status_code == 200  # uses more than the quota
    response = _ask(created.secret, bot)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "insufficient_quota"
    assert response.json()["error"]["type"] == "insufficient_quota"
    assert int(response["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "x", "messages": []}, "messages"),
        ({"model": "x", "messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        ({"model": "x", "messages": [{"role": "tool", "content": "hi"}]}, "messages[0].role"),
        ({"model": "x", "messages": [{"role": "user", "content": "hi"}], "temperature": 3}, "temperature"),
        ({"model": "x", "messages": [{"role": "user", "content": "hi"}], "top_p": "a"}, "top_p"),
        ({"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "max_tokens"),
        ({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stop": ["a"] * 5}, "stop"),
        ({"model": "x", "messages": [{"role": "user", "content": "hi"}], "n": 3}, "n"),
        ({"model": "x", "messages": [{"role": "user", "content": "hi"}], "logprobs": True}, "logprobs"),
        (
            {
                "model": "x",
                "messages": [{"role": "user", "content": "hi"}],
                "response_format": {"type": "json_object"},
            },
            "response_format",
        ),
        (
            {
                "model": "x",
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
            },
            "messages[0].content",
        ),
        (
            {"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream_options": {}},
            "stream_options",
        ),
    ],
)
def test_bad_requests_are_400_invalid_request_error(user, body, param):
    created = api_key_create(user=user, name="k")
    response = _post(created.secret, body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert not Run.objects.exists()


def test_no_key_is_401_whatever_the_body_and_not_json_is_refused(user):
    response = Client().post(COMPLETIONS, "{not json", content_type="application/json")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    created = api_key_create(user=user, name="k")
    response = Client().post(
        COMPLETIONS,
        "{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {created.secret}"},
    )
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    assert Client().get(COMPLETIONS).status_code == 405
    unknown = Client().get("/openai/v1/nothing-here")
    assert unknown.status_code == 404 and "error" in unknown.json()


def test_native_api_creates_lists_and_revokes_keys(user_client, other_client, user):
    bot = make_bot(owner=user)
    response = user_client.post("/api/v1/api-keys", {"name": "ci", "bots": [str(bot.pk)]}, format="json")
    assert response.status_code == 201
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("bc_") and body["bots"] == [str(bot.pk)] and body["all_bots"] is False
    listed = user_client.get("/api/v1/api-keys").json()
    assert [key["id"] for key in listed] == [body["id"]]
    assert "secret" not in listed[0] and secret not in json.dumps(listed)
    # Another user sees and revokes nothing of it.
    assert other_client.get("/api/v1/api-keys").json() == []
    assert other_client.get(f"/api/v1/api-keys/{body['id']}").status_code == 404
    assert other_client.delete(f"/api/v1/api-keys/{body['id']}").status_code == 404
    assert _ask(secret, bot).status_code == 200
    revoked = user_client.delete(f"/api/v1/api-keys/{body['id']}")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert _ask(secret, bot).status_code == 401
    # A bot the user may not use cannot be in a key's scope; nothing is stored.
    foreign = make_bot(owner=None)
    response = user_client.post("/api/v1/api-keys", {"name": "x", "bots": [str(foreign.pk)]}, format="json")
    assert response.status_code == 400 and "bots" in response.json()["error"]["fields"]
    assert ApiKey.objects.count() == 1

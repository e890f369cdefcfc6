"""The failed-login throttle under parallel attempts: no more passwords checked than the
limit allows, with the local-memory cache and with Redis."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from accounts.models import User
from accounts.tests.test_auth_api import TOKEN
from chat.tests.test_limits_concurrency import at_once

PARALLEL = 40
LOCAL_MEMORY = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def _wrong_passwords_in_parallel(monkeypatch) -> tuple[int, list[int]]:
    from rest_framework.test import APIClient

    checked = []
    lock = threading.Lock()
    check_password = User.check_password

    def counting_check(self, raw_password):
        with lock:
            checked.append(raw_password)
        return check_password(self, raw_password)

    monkeypatch.setattr(User, "check_password", counting_check)

    def attempt(index: int) -> int:
        body = {"email": "alice@example.com", "password": f"wrong-{index}"}
        # Every attempt from its own address: only the per-email counter can stop them.
        return APIClient().post(TOKEN, body, format="json", REMOTE_ADDR=f"10.1.0.{index}").status_code

    statuses = at_once(PARALLEL, attempt)
    return len(checked), statuses


def _assert_limit_held(monkeypatch):
    cache.clear()
    checked, statuses = _wrong_passwords_in_parallel(monkeypatch)
    assert checked <= settings.LOGIN_FAILURE_LIMIT
    assert statuses.count(401) == checked
    assert statuses.count(429) == PARALLEL - checked


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_never_pass_the_limit_with_local_memory(monkeypatch, user):
    with override_settings(CACHES=LOCAL_MEMORY):
        _assert_limit_held(monkeypatch)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_never_pass_the_limit_with_redis(monkeypatch, user):
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    _assert_limit_held(monkeypatch)


def test_a_successful_login_gives_the_address_its_attempt_back(api_client, user):
    from accounts.tests.test_auth_api import PASSWORD

    for _ in range(settings.LOGIN_FAILURE_LIMIT + 2):
        response = api_client.post(
            TOKEN, {"email": "alice@example.com", "password": PASSWORD}, format="json", REMOTE_ADDR="10.2.0.1"
        )
        assert response.status_code == 200

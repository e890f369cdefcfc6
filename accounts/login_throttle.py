"""Failed-login counters per IP and per email, kept in the cache.

With Redis as the cache the counters are shared by every web process, so the limit holds
across replicas. A window opens at the first failure and lasts LOGIN_FAILURE_WINDOW_SECONDS.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

from accounts.errors import LoginThrottled


def _keys(kind: str, value: str) -> tuple[str, str]:
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"login-fail:{kind}:{digest}:count", f"login-fail:{kind}:{digest}:start"


def _subjects(*, email: str, ip: str) -> list[tuple[str, str]]:
    return [("ip", ip), ("email", email.strip().lower())]


def login_throttle_check(*, email: str, ip: str) -> None:
    """Raise LoginThrottled when either the IP or the email used up its failures."""
    limit = settings.LOGIN_FAILURE_LIMIT
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for kind, value in _subjects(email=email, ip=ip):
        count_key, start_key = _keys(kind, value)
        values = cache.get_many([count_key, start_key])
        if values.get(count_key, 0) >= limit:
            started = values.get(start_key, time.time())
            retry_after = max(1, int(window - (time.time() - started)))
            raise LoginThrottled(retry_after=retry_after)


def login_failure_record(*, email: str, ip: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for kind, value in _subjects(email=email, ip=ip):
        count_key, start_key = _keys(kind, value)
        cache.add(start_key, time.time(), timeout=window)
        cache.add(count_key, 0, timeout=window)
        try:
            cache.incr(count_key)
        except ValueError:  # expired between add and incr
            cache.set(count_key, 1, timeout=window)


def login_failures_clear(*, email: str) -> None:
    cache.delete_many(_keys("email", email.strip().lower()))

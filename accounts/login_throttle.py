"""Failed-login counters per IP and per email (`bytchat.counters`, in the cache).

With Redis as the cache the counters are shared by every web process, so the limit holds
across replicas. A window opens at the first failure and lasts LOGIN_FAILURE_WINDOW_SECONDS.
"""

from __future__ import annotations

from django.conf import settings

from accounts.errors import LoginThrottled
from bytchat.counters import window_clear, window_hit, window_peek


def _subjects(*, email: str, ip: str) -> list[tuple[str, str]]:
    return [("login-fail:ip", ip), ("login-fail:email", email.strip().lower())]


def login_throttle_check(*, email: str, ip: str) -> None:
    """Raise LoginThrottled when either the IP or the email used up its failures."""
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for scope, subject in _subjects(email=email, ip=ip):
        counted = window_peek(scope=scope, subject=subject, window_seconds=window)
        if counted.count >= settings.LOGIN_FAILURE_LIMIT:
            raise LoginThrottled(retry_after=counted.seconds_left)


def login_failure_record(*, email: str, ip: str) -> None:
    for scope, subject in _subjects(email=email, ip=ip):
        window_hit(scope=scope, subject=subject, window_seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def login_failures_clear(*, email: str) -> None:
    window_clear(scope="login-fail:email", subject=email.strip().lower())

"""Failed-login counters per IP and per email (`bytchat.counters`, in the cache).

With Redis as the cache the counters are shared by every web process, so the limit holds
across replicas. A window opens at the first failure and lasts LOGIN_FAILURE_WINDOW_SECONDS.

An attempt is counted as a failure before its password is checked, and refused on the
count it got: one atomic step, so parallel attempts cannot all pass a check that none of
them has recorded yet. A successful attempt takes its count back.
"""

from __future__ import annotations

from django.conf import settings

from accounts.errors import LoginThrottled
from bytchat.counters import window_clear, window_hit, window_unhit

IP_SCOPE = "login-fail:ip"
EMAIL_SCOPE = "login-fail:email"


def _subjects(*, email: str, ip: str) -> list[tuple[str, str]]:
    return [(IP_SCOPE, ip), (EMAIL_SCOPE, email.strip().lower())]


def login_attempt_count(*, email: str, ip: str) -> None:
    """Count an attempt against the IP and the email, or raise LoginThrottled when either
    has used up its failures (then the password must not be checked)."""
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for scope, subject in _subjects(email=email, ip=ip):
        counted = window_hit(scope=scope, subject=subject, window_seconds=window)
        if counted.count > settings.LOGIN_FAILURE_LIMIT:
            raise LoginThrottled(retry_after=counted.seconds_left)


def login_attempt_succeeded(*, email: str, ip: str) -> None:
    """The password was right: the email starts afresh, the IP gets its attempt back."""
    window_unhit(scope=IP_SCOPE, subject=ip)
    login_failures_clear(email=email)


def login_failure_record(*, email: str, ip: str) -> None:
    """Count a failure without an attempt (another process, a test)."""
    for scope, subject in _subjects(email=email, ip=ip):
        window_hit(scope=scope, subject=subject, window_seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def login_failures_clear(*, email: str) -> None:
    window_clear(scope=EMAIL_SCOPE, subject=email.strip().lower())

"""The document's rate limits: login 5 per 15 minutes per IP, messages 30 per minute per
user, chats 100 per day per user (chat creation).

Counters live in the cache (Redis in production), so every web process shares them.
A window opens at a subject's first request and lasts its length, as the failed-login
counters in accounts/login_throttle.py do; the (n+1)th request inside it is a 429 with
Retry-After.
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle


def rate_check(*, scope: str, subject: str, limit: int, window_seconds: int) -> None:
    """Count one request of `subject`; raise Throttled past `limit` in the window."""
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    count_key = f"escombot-rate:{scope}:{digest}:count"
    start_key = f"escombot-rate:{scope}:{digest}:start"
    now = time.time()
    cache.add(start_key, now, timeout=window_seconds)
    cache.add(count_key, 0, timeout=window_seconds)
    try:
        count = cache.incr(count_key)
    except ValueError:  # expired between add and incr: a new window
        cache.set(start_key, now, timeout=window_seconds)
        cache.set(count_key, 1, timeout=window_seconds)
        count = 1
    if count > limit:
        started = cache.get(start_key, now)
        raise exceptions.Throttled(wait=max(1, int(window_seconds - (now - started))))


def client_ip(request) -> str:
    # DRF's notion of the client address, which honours NUM_PROXIES behind nginx.
    return BaseThrottle().get_ident(request)


class _Throttle(BaseThrottle):
    """A DRF throttle over `rate_check`; it raises Throttled itself (with its wait)."""

    scope = ""
    limit = 0
    window_seconds = 0
    methods: tuple[str, ...] = ("POST",)

    def subject(self, request) -> str:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        if request.method in self.methods:
            self.count(self.subject(request))
        return True

    def count(self, subject: str) -> None:
        rate_check(scope=self.scope, subject=subject, limit=self.limit, window_seconds=self.window_seconds)


class LoginThrottle(_Throttle):
    scope = "login"
    limit = 5
    window_seconds = 15 * 60

    def subject(self, request) -> str:
        return client_ip(request)


class ChatCreateThrottle(_Throttle):
    scope = "chats"
    limit = 100
    window_seconds = 24 * 60 * 60

    def subject(self, request) -> str:
        return str(request.user.pk)


class MessageThrottle(_Throttle):
    scope = "messages"
    limit = 30
    window_seconds = 60

    def subject(self, request) -> str:
        return str(request.user.pk)

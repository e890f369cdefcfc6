"""The document's rate limits: login 5 per 15 minutes per IP, messages 30 per minute per
user, chats 100 per day per user (chat creation).

Counters live in the cache (`bytchat.counters`; Redis in production), so every web
process shares them. A window opens at a subject's first request and lasts its length;
the (n+1)th request inside it is a 429 with Retry-After.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from bytchat.api.client import client_ip
from bytchat.counters import window_hit


def rate_check(*, scope: str, subject: str, limit: int, window_seconds: int) -> None:
    """Count one request of `subject`; raise Throttled past `limit` in the window."""
    counted = window_hit(scope=f"escombot-rate:{scope}", subject=subject, window_seconds=window_seconds)
    if counted.count > limit:
        raise exceptions.Throttled(wait=counted.seconds_left)


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

"""Counters of requests in a time window, kept in the cache.

With Redis as the cache they are shared by every web process, so a limit holds across
replicas. A window opens at a subject's first counted hit and lasts `window_seconds`.
Used by the failed-login throttle, by the ESCOMBOT API's documented rate limits and (with
`count_hit`, a window per clock minute) by the chat's messages per minute.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class WindowCount:
    count: int
    seconds_left: int


def _keys(scope: str, subject: str) -> tuple[str, str]:
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"{scope}:{digest}:count", f"{scope}:{digest}:start"


def _seconds_left(started: float | None, window_seconds: int) -> int:
    elapsed = time.time() - (started if started is not None else time.time())
    return max(1, int(window_seconds - elapsed))


def count_hit(key: str, *, timeout: int) -> int:
    """One more hit on the counter `key` (created, with `timeout` seconds to live, by its
    first hit); the count including this hit. Atomic: parallel hits each get a count of
    their own. Redis (`bytchat.cache.RedisCache`) does it in one round trip; another cache
    (local memory) with `add` and `incr` under its lock."""
    counter = getattr(cache, "count_hit", None)
    if counter is not None:
        return counter(key, timeout=timeout)
    for _ in range(3):
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr: open it again
            continue
    return 1  # pragma: no cover - the key vanished three times in a row


def window_peek(*, scope: str, subject: str, window_seconds: int) -> WindowCount:
    """The hits counted so far in the subject's open window (0 without one)."""
    count_key, start_key = _keys(scope, subject)
    values = cache.get_many([count_key, start_key])
    return WindowCount(values.get(count_key, 0), _seconds_left(values.get(start_key), window_seconds))


def window_hit(*, scope: str, subject: str, window_seconds: int) -> WindowCount:
    """Count one hit, opening a window if none is open; the count includes this hit.

    The count comes from one atomic increment (Redis INCR; the local-memory cache's incr
    holds its lock), so parallel hits each get a count of their own: a caller that
    decides on the count it got ("increment first, then decide") cannot be raced past a
    limit."""
    count_key, start_key = _keys(scope, subject)
    now = time.time()
    cache.add(start_key, now, timeout=window_seconds)
    count = count_hit(count_key, timeout=window_seconds)
    return WindowCount(count, _seconds_left(cache.get(start_key, now), window_seconds))


def window_unhit(*, scope: str, subject: str) -> None:
    """Take back one hit counted by `window_hit` (the attempt turned out not to count)."""
    count_key, _ = _keys(scope, subject)
    try:
        if cache.decr(count_key) < 0:
            cache.delete(count_key)
    except ValueError:  # the window closed meanwhile
        pass


def window_clear(*, scope: str, subject: str) -> None:
    cache.delete_many(_keys(scope, subject))

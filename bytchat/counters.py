"""Counters of requests in a time window, kept in the cache.

With Redis as the cache they are shared by every web process, so a limit holds across
replicas. A window opens at a subject's first counted hit and lasts `window_seconds`.
Used by the failed-login throttle and by the ESCOMBOT API's documented rate limits.
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
    for _ in range(3):
        cache.add(count_key, 0, timeout=window_seconds)
        try:
            count = cache.incr(count_key)
            break
        except ValueError:  # the window expired between add and incr: open a new one
            cache.add(start_key, now, timeout=window_seconds)
    else:  # pragma: no cover - the key vanished three times in a row
        count = 1
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

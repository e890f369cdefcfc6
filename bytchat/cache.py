"""The Redis cache backend, with one client (and connection pool) per process.

Django keeps a cache object per thread, and its Redis backend opens a connection pool per
cache object. Under ASGI every request's sync work runs in a thread of its own, so each
request opened a fresh Redis connection (TCP and handshake) for its first cache call: the
chat turn's rate limit, DRF's throttles, the login throttle. The client is thread-safe;
here every thread of the process shares one.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

from django.core.cache.backends import redis

_clients: dict[str, Any] = {}
_lock = threading.Lock()


class RedisCache(redis.RedisCache):
    @cached_property
    def _client_key(self) -> str:
        # Once per cache object: formatting it on every call took 2 % of a chat turn's CPU.
        return repr((self._servers, sorted(self._options.items())))

    @property
    def _cache(self):
        key = self._client_key
        client = _clients.get(key)
        if client is None:
            with _lock:
                client = _clients.get(key) or _clients.setdefault(
                    key, self._class(self._servers, **self._options)
                )
        return client

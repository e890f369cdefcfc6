"""SDK clients reused across requests.

Building an SDK client costs tens of milliseconds (an SSL context, a connection pool), far
more than the time-to-first-token budget, so each provider keeps its clients. A client's
pool belongs to the event loop that opened it, so clients are kept per loop and forgotten
with it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Client = TypeVar("Client")


class ClientCache(Generic[Client]):
    def __init__(
        self,
        create: Callable[[tuple[Hashable, ...]], Client],
        close: Callable[[Client], Awaitable[None]],
    ) -> None:
        self._create = create
        self._close = close
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[Hashable, ...], Client]
        ]
        self._by_loop = weakref.WeakKeyDictionary()

    def get(self, key: tuple[Hashable, ...]) -> Client:
        clients = self._by_loop.setdefault(asyncio.get_running_loop(), {})
        client = clients.get(key)
        if client is None:
            client = clients[key] = self._create(key)
        return client

    async def aclose(self) -> None:
        """Close the clients of the running loop (at shutdown, or at the end of a test)."""
        clients = self._by_loop.pop(asyncio.get_running_loop(), {})
        for client in clients.values():
            await self._close(client)


def provider_timeout_seconds() -> float:
    from django.conf import settings

    return float(getattr(settings, "PROVIDER_TIMEOUT_SECONDS", 60))

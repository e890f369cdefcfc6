"""SDK clients reused across requests.

Building an SDK client costs tens of milliseconds (an SSL context, a connection pool), far
more than the time-to-first-token budget, so each provider keeps its clients. A client's
pool belongs to the event loop that opened it, so clients are kept per loop and forgotten
with it.

Users may bring their own endpoint and key, and each pair is a client of its own, so a loop
keeps at most `max_clients`: the least recently used one is dropped past that, and closed
once any answer still streaming through it has had its provider timeout to end.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Client = TypeVar("Client")


class ClientCache(Generic[Client]):
    def __init__(
        self,
        create: Callable[[tuple[Hashable, ...]], Client],
        close: Callable[[Client], Awaitable[None]],
        *,
        max_clients: int = 64,
    ) -> None:
        self._create = create
        self._close = close
        self._max_clients = max_clients
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, OrderedDict[tuple[Hashable, ...], Client]
        ]
        self._by_loop = weakref.WeakKeyDictionary()
        # Closes of dropped clients, kept referenced until they ran.
        self._closing: set[asyncio.Task] = set()

    def get(self, key: tuple[Hashable, ...]) -> Client:
        loop = asyncio.get_running_loop()
        clients = self._by_loop.setdefault(loop, OrderedDict())
        client = clients.get(key)
        if client is not None:
            clients.move_to_end(key)
            return client
        client = clients[key] = self._create(key)
        while len(clients) > self._max_clients:
            _, dropped = clients.popitem(last=False)
            loop.call_later(provider_timeout_seconds(), self._close_later, dropped)
        return client

    def _close_later(self, client: Client) -> None:
        task = asyncio.ensure_future(self._close(client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def __len__(self) -> int:
        """Clients kept for the running loop."""
        return len(self._by_loop.get(asyncio.get_running_loop(), ()))

    async def aclose(self) -> None:
        """Close the clients of the running loop (at shutdown, or at the end of a test)."""
        clients = self._by_loop.pop(asyncio.get_running_loop(), {})
        for client in clients.values():
            await self._close(client)


def provider_timeout_seconds() -> float:
    from django.conf import settings

    return float(getattr(settings, "PROVIDER_TIMEOUT_SECONDS", 60))

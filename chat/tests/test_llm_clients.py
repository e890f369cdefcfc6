"""The SDK client cache: reused per key, bounded, and dropped clients closed later."""

from __future__ import annotations

import asyncio

from chat.llm.clients import ClientCache


class FakeClient:
    def __init__(self, key):
        self.key = key
        self.closed = False


async def _close(client: FakeClient) -> None:
    client.closed = True


def test_it_reuses_the_client_of_a_key():
    async def scenario():
        cache = ClientCache(FakeClient, _close)
        assert cache.get(("a",)) is cache.get(("a",))
        assert cache.get(("a",)) is not cache.get(("b",))

    asyncio.run(scenario())


def test_it_keeps_at_most_max_clients_and_closes_the_least_recently_used_later(settings):
    settings.PROVIDER_TIMEOUT_SECONDS = 0.01

    async def scenario():
        cache = ClientCache(FakeClient, _close, max_clients=3)
        first = cache.get(("user-1",))
        made = [cache.get((f"user-{n}",)) for n in range(2, 4)]
        cache.get(("user-1",))  # used again: now the most recent
        cache.get(("user-4",))
        assert len(cache) == 3
        # user-2 was the least recently used; it stays open while its streams may run.
        assert not made[0].closed
        await asyncio.sleep(0.05)
        assert made[0].closed
        assert not first.closed and not made[1].closed
        assert cache.get(("user-1",)) is first

    asyncio.run(scenario())

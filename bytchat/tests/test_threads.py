"""bytchat.threads: reused single-thread executors for thread-sensitive sync steps."""

from __future__ import annotations

import asyncio
import threading

from asgiref.sync import async_to_sync, sync_to_async

from bytchat.threads import ThreadPool, own_thread, pool


def _thread() -> int:
    return threading.get_ident()


async def _block_threads() -> list[int]:
    async with own_thread():
        return [await sync_to_async(_thread)() for _ in range(3)]


def test_a_block_runs_its_sync_calls_in_one_thread_that_the_next_block_reuses():
    async def scenario():
        first = await _block_threads()
        started = pool.started
        second = await _block_threads()
        return first, second, started

    first, second, started = asyncio.run(scenario())
    assert len(set(first)) == 1 and first[0] != threading.get_ident()
    assert second == first  # the same thread, lent again
    assert pool.started == started


def test_blocks_at_the_same_time_have_threads_of_their_own():
    async def scenario():
        return await asyncio.gather(*(_block_threads() for _ in range(3)))

    blocks = asyncio.run(scenario())
    assert all(len(set(threads)) == 1 for threads in blocks)
    assert len({threads[0] for threads in blocks}) == 3


def test_under_async_to_sync_the_callers_thread_runs_them():
    # A sync caller (the test client, a test's transaction) waits in its own thread.
    assert set(async_to_sync(_block_threads)()) == {threading.get_ident()}


def test_the_pool_keeps_at_most_its_idle_threads():
    threads = ThreadPool(idle=1)
    first, second = threads.acquire(), threads.acquire()
    assert threads.started == 2
    first.submit(_thread).result()
    second.submit(_thread).result()
    threads.release(first)
    threads.release(second)  # beyond the bound: shut down, its thread ends
    assert threads.idle_count() == 1
    assert second._shutdown and not first._shutdown
    assert threads.acquire() is first
    first.shutdown()

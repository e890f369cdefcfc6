"""Reused threads for the sync steps of requests and answers.

Under ASGI, Django runs a request's sync code (`sync_to_async`, thread-sensitive) in a
thread of the request's own: asgiref starts one per request, and one more to join it when
the request ends. `own_thread()` gives a request (`bytchat.middleware.ASGIHandler`) or a
detached answer (`chat.services.answers`) one of this process's idle single-thread
executors instead, and takes it back at the end, so a request starts no thread.

The rules stay asgiref's: the block's thread-sensitive calls all run, one at a time, in
that one thread, and no other block uses the thread meanwhile. Under `async_to_sync` (a
sync caller, the test client) the caller's own thread runs them, as asgiref would.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import AsyncToSync, ThreadSensitiveContext

# Idle threads kept per process. A burst beyond it starts threads, which end when given back.
IDLE_THREADS = 256


class ThreadPool:
    """Single-thread executors, lent one at a time; at most `idle` wait to be lent again."""

    def __init__(self, idle: int = IDLE_THREADS) -> None:
        self.idle = idle
        self._free: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()  # one event loop per process, but tests run several
        self.started = 0

    def acquire(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._free:
                return self._free.pop()
            self.started += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="bytchat-sync")

    def release(self, executor: ThreadPoolExecutor) -> None:
        """Take an executor back. Work still queued on it (a call whose caller was
        cancelled) finishes before the next borrower's, in the same thread."""
        with self._lock:
            if len(self._free) < self.idle:
                self._free.append(executor)
                return
        executor.shutdown(wait=False)  # its thread ends once its queue is empty

    def idle_count(self) -> int:
        return len(self._free)


pool = ThreadPool()


@contextlib.asynccontextmanager
async def own_thread() -> AsyncIterator[None]:
    """Run the block's thread-sensitive sync calls in one reused thread of its own.
    Tasks the block starts must not call sync code after it ends (asgiref refuses):
    one that outlives it takes a thread of its own with `own_thread()`."""
    if getattr(AsyncToSync.executors, "current", None) is not None:
        # Called from sync code through async_to_sync: that thread waits for these calls
        # and runs them (a test's transaction lives there).
        yield
        return
    executor = pool.acquire()
    try:
        async with ThreadSensitiveContext(executor=executor):
            yield
    finally:
        pool.release(executor)

"""Server-sent events for the streaming endpoints of every surface.

Streaming views are plain ``async def`` Django views returning an async iterator: under
ASGI a sync iterator would be buffered whole, and DRF views run in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from django.http import StreamingHttpResponse

KEEPALIVE_SECONDS = 15.0
KEEPALIVE_COMMENT = b": keep-alive\n\n"


def sse_event(data: dict[str, Any], *, event_id: int | None = None) -> bytes:
    """One event: a single JSON object on one ``data:`` line, after its ``id:`` line when
    it has one (the `Last-Event-ID` a client resumes from)."""
    line = b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
    return line if event_id is None else b"id: %d\n" % event_id + line


class _End:
    """What the producer puts last: the source ended, or raised `error`."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


async def with_keepalive(
    chunks: AsyncIterator[Any],
    *,
    interval: float = KEEPALIVE_SECONDS,
    buffer: int = 64,
    keepalive: Any = KEEPALIVE_COMMENT,
) -> AsyncIterator[Any]:
    """Pass chunks through, and send `keepalive` (a comment line) whenever the source is
    idle for `interval` seconds, so proxies and browsers keep the connection open.
    A source that can tell when it is idle (`chat.services.answers`) does it cheaper.

    One task reads the source into a small queue (`buffer` chunks: a slow client holds the
    source back) and one timer wakes when the stream may have gone idle; a chunk costs a
    queue hand-off, not a task and a timeout of its own."""
    iterator = aiter(chunks)
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=buffer)
    loop = asyncio.get_running_loop()
    last_sent = loop.time()

    async def produce() -> None:
        try:
            async for chunk in iterator:
                await queue.put(chunk)
        except Exception as error:  # handed to the consumer, which raises it
            await queue.put(_End(error))
        else:
            await queue.put(_End())

    async def keep_alive() -> None:
        while True:
            idle_for = loop.time() - last_sent
            if idle_for < interval:
                await asyncio.sleep(interval - idle_for)
                continue
            if queue.empty():  # idle source, not a slow client
                queue.put_nowait(keepalive)
            await asyncio.sleep(interval)

    producer = asyncio.create_task(produce())
    ticker = asyncio.create_task(keep_alive())
    try:
        while True:
            item = await queue.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            last_sent = loop.time()
            yield item
    finally:
        # The client went away (or the stream ended): stop the source where it stands,
        # so it can store what it has.
        ticker.cancel()
        producer.cancel()
        for task in (ticker, producer):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def sse_response(
    chunks: AsyncIterator[bytes], *, status: int = 200, keeps_alive: bool = False
) -> StreamingHttpResponse:
    """The event stream. `keeps_alive`: the chunks already hold the keep-alive comments."""
    if not keeps_alive:
        chunks = with_keepalive(chunks)
    response = StreamingHttpResponse(chunks, content_type="text/event-stream", status=status)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response

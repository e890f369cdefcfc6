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


def sse_event(data: dict[str, Any]) -> bytes:
    """One event: a single JSON object on one ``data:`` line."""
    return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


async def with_keepalive(
    chunks: AsyncIterator[bytes], *, interval: float = KEEPALIVE_SECONDS
) -> AsyncIterator[bytes]:
    """Pass chunks through, and send a comment line whenever the source is idle for
    `interval` seconds, so proxies and browsers keep the connection open."""
    iterator = aiter(chunks)
    pending: asyncio.Task | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield KEEPALIVE_COMMENT
                continue
            task, pending = pending, None
            try:
                chunk = task.result()
            except StopAsyncIteration:
                return
            yield chunk
    finally:
        # The client went away (or the stream ended): stop the source where it stands,
        # so it can store what it has.
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def sse_response(chunks: AsyncIterator[bytes], *, status: int = 200) -> StreamingHttpResponse:
    response = StreamingHttpResponse(with_keepalive(chunks), content_type="text/event-stream", status=status)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response

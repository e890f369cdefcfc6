"""Which transport failures are a dropped connection, shared by the SDK providers.

A server closes a kept-alive connection when it has been idle a while; a request that
goes out on it at that moment fails with a read or write error, or "server disconnected
without sending a response", before any answer. The same request on a new connection
goes through, so failover asks the same model once more (`ProviderConnectionLost`). A
connection that could not be opened at all (refused, or refused by `bytchat.outbound`'s
address check) or that timed out is not one of these.
"""

from __future__ import annotations

import httpx2

try:  # The Gemini SDK may run on httpx instead (GOOGLE_GENAI_HTTP_CLIENT=httpx).
    import httpx
except ImportError:  # pragma: no cover - httpx is optional
    httpx = None  # type: ignore[assignment]

_DROPPED: tuple[type[Exception], ...] = (httpx2.ReadError, httpx2.WriteError, httpx2.RemoteProtocolError) + (
    (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) if httpx else ()
)


def connection_dropped(error: BaseException | None) -> bool:
    """Whether `error`, or an error that caused it, is a connection dropped by its peer."""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, _DROPPED):
            return True
        error, seen = error.__cause__, seen + 1
    return False

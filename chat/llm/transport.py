"""The SDKs' transport failures (httpx2, or httpx), and which are a dropped connection.

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


def _both(name: str) -> tuple[type[Exception], ...]:
    """httpx2's exception class `name`, and httpx's when it is installed."""
    return (getattr(httpx2, name),) + ((getattr(httpx, name),) if httpx else ())


TIMEOUTS = _both("TimeoutException")
TRANSPORT_ERRORS = _both("TransportError")
_DROPPED = _both("ReadError") + _both("WriteError") + _both("RemoteProtocolError")


def connection_dropped(error: BaseException | None) -> bool:
    """Whether `error`, or an error that caused it, is a connection dropped by its peer."""
    for _ in range(5):  # a chain of causes is short; this also ends a cycle
        if error is None:
            return False
        if isinstance(error, _DROPPED):
            return True
        error = error.__cause__
    return False

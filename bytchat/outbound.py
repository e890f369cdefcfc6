"""Connections to URLs that users choose (a model config's `base_url`).

A user-set URL may only reach the public internet: `http`/`https`, and a host whose every
address is global, unless the operator lists the host in `MODEL_BASE_URL_ALLOWED_HOSTS`.
`checked_addresses` is the one rule. It runs when the URL is saved (`check_url`) and again
when connecting (`guarded_async_client`): there it resolves the name, checks the addresses
and connects to the checked address itself, so a DNS answer that changes after the save (or
between a check and a connect) cannot reach an internal host. Redirects are connections
too, so they are checked the same way.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import anyio
import httpcore2
import httpx2
from django.conf import settings

DEFAULT_PORTS = {"http": 80, "https": 443}
# NAT64 embeds an IPv4 address in an IPv6 one; the embedded address is what is reached.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20)


class UnsafeURL(ValueError):
    """A URL a user may not point the server at. The message is safe to show them."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- The rule ----------------------------------------------------------------------------
def _split_host_port(entry: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]` or `[v6]:port`, as MODEL_BASE_URL_ALLOWED_HOSTS lists them."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        return host, int(port) if port else None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, int(port)
    return entry, None


def _allowed(host: str, port: int) -> bool:
    host = host.lower().rstrip(".")
    for entry in getattr(settings, "MODEL_BASE_URL_ALLOWED_HOSTS", ()):
        allowed_host, allowed_port = _split_host_port(entry)
        if allowed_host.rstrip(".") == host and allowed_port in (None, port):
            return True
    return False


def ip_literal(host: str) -> IPAddress | None:
    """The address a host names by itself, in any form a resolver accepts: `10.0.0.1`,
    `[::1]`, and the old IPv4 forms `2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError, ValueError):
        return None


def is_public(address: IPAddress) -> bool:
    """Globally routable, also for the IPv4 address an IPv6 one carries."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if address.teredo is not None:
            return False
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """The addresses of `host`, in the resolver's order (tests replace this function)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def checked_addresses(host: str, port: int) -> list[str]:
    """Where a connection to `host:port` may go: the host itself when the operator allows
    it, else its addresses, every one of them public. Raises `UnsafeURL`."""
    if _allowed(host, port):
        return [host]
    literal = ip_literal(host)
    if literal is not None:
        addresses: Iterable[str] = [str(literal)]
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise UnsafeURL(f"The host {host!r} could not be resolved.") from exc
    checked = []
    for address in addresses:
        parsed = ipaddress.ip_address(address.split("%")[0])
        if not is_public(parsed) or "%" in address:
            # Which internal address a name has is not the user's business.
            raise UnsafeURL(
                "The host must be a public internet address; private, loopback, link-local "
                "and other internal addresses are refused."
            )
        checked.append(str(parsed))
    if not checked:
        raise UnsafeURL(f"The host {host!r} could not be resolved.")
    return checked


def check_url(url: str) -> None:
    """Refuse a user-set URL that is not http(s) or whose host is not public."""
    try:
        parsed = urlsplit(url)
        port = parsed.port
    except ValueError as exc:
        raise UnsafeURL("Enter a valid http:// or https:// URL.") from exc
    if parsed.scheme not in DEFAULT_PORTS or not parsed.hostname:
        raise UnsafeURL("Enter an http:// or https:// URL with a host name.")
    checked_addresses(parsed.hostname, port or DEFAULT_PORTS[parsed.scheme])


# --- At connect time ---------------------------------------------------------------------
class GuardedNetworkBackend(httpcore2.AsyncNetworkBackend):
    """Connects only to addresses `checked_addresses` allows, resolving the name once.

    TLS still verifies the certificate against the URL's host name: httpcore starts TLS with
    the origin's name as server_hostname, whatever address the socket was opened to."""

    def __init__(self) -> None:
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await anyio.to_thread.run_sync(
                    checked_addresses, host, port, abandon_on_cancel=True
                )
        except UnsafeURL as exc:
            raise httpcore2.ConnectError(f"Refused to connect to {host}: {exc.message}") from exc
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(f"Resolving {host} timed out.") from exc
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore2.ConnectError as exc:
                error = exc
        assert error is not None  # `checked_addresses` returns at least one address
        raise error

    async def connect_unix_socket(self, path: str, timeout=None, socket_options=None):
        raise httpcore2.ConnectError("Unix sockets are not allowed for user-set URLs.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """httpx's transport, with its connection pool opening sockets through the guard.

    httpx does not take a network backend, so the pool it built is replaced by one with
    the same settings; tests pin the attribute this relies on. Proxies from the environment
    are not used (a proxy would resolve the name itself)."""

    def __init__(self, *, limits: httpx2.Limits = DEFAULT_LIMITS) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(),
        )


def guarded_async_client(*, timeout: float, follow_redirects: bool = True) -> httpx2.AsyncClient:
    """An httpx client for user-set URLs, for the SDKs' `http_client` options."""
    return httpx2.AsyncClient(
        transport=GuardedTransport(),
        timeout=timeout,
        follow_redirects=follow_redirects,
        trust_env=False,
    )

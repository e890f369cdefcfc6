"""One pipelined Redis connection per event loop, for many small commands from many tasks.

The answers' event logs (`chat.services.event_log`) send a command for every chunk of text
of every streaming answer. Through redis-py's asyncio client each cost 120 to 230 µs of CPU
under load (a pool checkout, a retry wrapper, a pipeline object and a task per call); here
about 25. A `Call`'s commands are written at once, without waiting for the replies of the
calls before it: Redis answers in order, so each reply goes back to its call in that order
(parsed by hiredis). A call made in the same moment as others goes out in the same write.

It speaks RESP2, and takes the URLs redis-py does: `redis://` (TCP), `rediss://` (TLS, with
`ssl_cert_reqs`, `ssl_ca_certs`, `ssl_certfile` and `ssl_keyfile`) and `unix://`, each with a
username, password and database. Replies are bytes, integers or None; an error reply is a
`redis.ResponseError` in its place; a connection that fails fails its calls with
`redis.ConnectionError`, and the next call opens a new one.

`RedisSubscription` is the same connection per event loop, subscribed to a channel: its
messages are handed to a callback as they arrive. No task reads them (the connection's
protocol does), so a loop that closes has nothing of it to cancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import hiredis
import redis
from redis.connection import SSLConnection, parse_url

Command = Sequence[Any]

_SSL_VERIFY = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


class Call:
    """Commands sent together, and `done`: their replies, once all of them are in."""

    __slots__ = ("commands", "done", "replies")

    def __init__(self, commands: list[Command]) -> None:
        self.commands = commands
        self.replies: list[Any] = []
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()

    def _reply(self, reply: Any) -> None:
        self.replies.append(reply)
        if len(self.replies) == len(self.commands) and not self.done.done():
            self.done.set_result(self.replies)

    def fail(self, error: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(error)
            self.done.add_done_callback(lambda done: done.exception())  # its caller may be gone


def first_error(replies: list[Any]) -> Exception | None:
    return next((reply for reply in replies if isinstance(reply, Exception)), None)


def pack(command: Command) -> bytes:
    """`command` as RESP: an array of bulk strings (text as UTF-8, numbers in decimal)."""
    parts = [b"*%d\r\n" % len(command)]
    for argument in command:
        data = argument if isinstance(argument, bytes) else str(argument).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Connection(asyncio.Protocol):
    def __init__(self, on_message: Callable[[bytes, bytes], None] | None = None) -> None:
        self.transport: asyncio.Transport | None = None
        # A subscriber's: each message published to its channels, (channel, data).
        self.on_message = on_message
        self.usable = False
        # The call of each command sent and not yet answered, oldest first.
        self.waiting: deque[Call] = deque()
        self.reader = hiredis.Reader(replyError=redis.ResponseError)

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.usable = True

    def send(self, calls: Sequence[Call]) -> None:
        if self.transport.is_closing():
            # Closed and not yet told so (`connection_lost` comes at the loop's next turn):
            # a write now would be dropped and its calls never answered.
            self.usable = False
            for call in calls:
                call.fail(redis.ConnectionError("The connection to Redis is closing"))
            return
        self.transport.write(b"".join(pack(command) for call in calls for command in call.commands))
        for call in calls:
            self.waiting.extend(itertools.repeat(call, len(call.commands)))

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as error:
                self._abort(f"Redis sent what is not RESP: {error}")
                return
            if reply is False:
                return
            if self.on_message is not None and isinstance(reply, list) and reply[:1] == [b"message"]:
                self.on_message(reply[1], reply[2])
                continue
            if not self.waiting:
                self._abort("Redis sent a reply to nothing asked")
                return
            self.waiting.popleft()._reply(reply)

    def _abort(self, reason: str) -> None:
        self.usable = False
        self._fail(redis.ConnectionError(reason))
        self.transport.abort()

    def _fail(self, error: Exception) -> None:
        while self.waiting:
            self.waiting.popleft().fail(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        self._fail(redis.ConnectionError(f"Lost the connection to Redis{f': {exc}' if exc else ''}"))


def connect_options(url: str) -> dict[str, Any]:
    """Where and how `url` connects: `path` (a Unix socket) or `host` and `port`, `ssl` (an
    SSLContext or None), `username`, `password` and `db`."""
    options = parse_url(url)
    context = None
    if options.get("connection_class") is SSLConnection:
        context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
        verify = _SSL_VERIFY[str(options.get("ssl_cert_reqs") or "required").lower()]
        if verify != ssl.CERT_REQUIRED:
            context.check_hostname = False
        context.verify_mode = verify
        if options.get("ssl_certfile"):
            context.load_cert_chain(options["ssl_certfile"], options.get("ssl_keyfile"))
    return {
        "path": options.get("path"),
        "host": options.get("host", "localhost"),
        "port": int(options.get("port", 6379)),
        "ssl": context,
        "username": options.get("username"),
        "password": options.get("password"),
        "db": int(options.get("db") or 0),
    }


def _opened(opening: asyncio.Task | None) -> _Connection | None:
    """The connection `opening` opened, if it has and it still works."""
    if opening is None or not opening.done() or opening.cancelled() or opening.exception() is not None:
        return None
    connection = opening.result()
    return connection if connection.usable and not connection.transport.is_closing() else None


class _PerLoop:
    """One connection to Redis for each event loop, opened when it is first wanted."""

    def __init__(self, url: str, *, connect_timeout: float) -> None:
        self.options = connect_options(url)
        self.connect_timeout = connect_timeout
        # Each event loop's connection (the task opening it). Not weakly keyed: a
        # connection refers to its loop. The entries of loops that closed (each
        # `async_to_sync` runs one) are let go when a new loop connects.
        self._opening: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}
        self._tasks: set[asyncio.Task] = set()

    async def _connection(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        opening = self._opening.get(loop)
        if opening is None or (opening.done() and _opened(opening) is None):
            self._let_go_of_closed_loops()
            opening = self._opening[loop] = loop.create_task(self._connect(loop))
        return await asyncio.shield(opening)

    def _let_go_of_closed_loops(self) -> None:
        for loop in [loop for loop in list(self._opening) if loop.is_closed()]:
            connection = _opened(self._opening.pop(loop, None))
            if connection is not None:
                # Its loop cannot close the transport any more: end the connection itself.
                with contextlib.suppress(OSError):
                    connection.transport.get_extra_info("socket").shutdown(socket.SHUT_RDWR)

    def _protocol(self) -> _Connection:
        return _Connection()

    def _hello(self) -> list[Command]:
        """The commands a new connection sends first."""
        options = self.options
        hello: list[Command] = []
        if options["password"] is not None:
            hello.append(
                ["AUTH", *([options["username"]] if options["username"] else []), options["password"]]
            )
        if options["db"]:
            hello.append(["SELECT", options["db"]])
        return hello

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        options = self.options
        try:
            async with asyncio.timeout(self.connect_timeout):
                if options["path"]:
                    _, connection = await loop.create_unix_connection(self._protocol, options["path"])
                else:
                    _, connection = await loop.create_connection(
                        self._protocol, options["host"], options["port"], ssl=options["ssl"]
                    )
        except (OSError, TimeoutError) as error:
            raise redis.ConnectionError(f"Could not connect to Redis: {error}") from error
        hello = self._hello()
        if hello:
            call = Call(hello)
            connection.send([call])
            try:
                error = first_error(await call.done)
            except BaseException:
                connection.transport.close()
                raise
            if error is not None:
                connection.transport.close()
                raise error
        return connection


class RedisPipe(_PerLoop):
    """`send` or `call` from any task of an event loop; one connection each loop."""

    def send(self, calls: Sequence[Call]) -> None:
        """Write `calls` now (or once connected); their `done` gives the replies."""
        loop = asyncio.get_running_loop()
        connection = _opened(self._opening.get(loop))
        if connection is not None:
            connection.send(calls)
            return
        task = loop.create_task(self._connect_and_send(loop, calls))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def call(self, *commands: Command) -> list[Any]:
        """Each command's reply; raises the first error reply."""
        call = Call(list(commands))
        self.send([call])
        replies = await asyncio.shield(call.done)
        error = first_error(replies)
        if error is not None:
            raise error
        return replies

    async def _connect_and_send(self, loop: asyncio.AbstractEventLoop, calls: Sequence[Call]) -> None:
        try:
            connection = await self._connection(loop)
        except Exception as error:
            for call in calls:
                call.fail(error)
            return
        except BaseException:
            for call in calls:
                call.done.cancel()
            raise
        connection.send(calls)


class RedisSubscription(_PerLoop):
    """One connection per event loop subscribed to `channel`: `on_message(data)` is called
    on that loop for each message published to it. Only for subscribing (`subscribed`), not
    for commands: a subscribed connection takes no others."""

    def __init__(
        self, url: str, channel: str, on_message: Callable[[bytes], None], *, connect_timeout: float
    ) -> None:
        super().__init__(url, connect_timeout=connect_timeout)
        self.channel = channel
        self.on_message = on_message

    async def subscribed(self) -> None:
        """Once this loop's connection is subscribed: opened now unless it is open (again,
        if it was lost: a message published meanwhile was missed)."""
        await self._connection(asyncio.get_running_loop())

    def _protocol(self) -> _Connection:
        return _Connection(on_message=lambda _channel, data: self.on_message(data))

    def _hello(self) -> list[Command]:
        return [*super()._hello(), ["SUBSCRIBE", self.channel]]

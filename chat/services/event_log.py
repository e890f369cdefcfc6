"""The short-lived event log of each running answer, read by clients that resume a stream.

Redis Streams when `REDIS_URL` is set (every web process reads every answer), bounded by
length (`CHAT_EVENT_LOG_MAX_EVENTS`, trimmed approximately) and by time
(`CHAT_EVENT_LOG_TTL_SECONDS`); in this process's memory on the embedded default.

Beside the events, an answer has:
- its state: who owns it and what the turn was, enough to store the answer from the log
  if the process running the model dies (`chat.services.answers`);
- a lease its process renews while the model call runs: a lapsed lease is a dead process;
- the time a client last listened (a resumer on another process counts);
- a stop request, which the process running the model waits for.

Event ids are 1, 2, 3... per answer (Redis stream ids `0-1`, `0-2`...), the SSE `id:`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from bytchat.redis_pipe import Call, RedisPipe, RedisSubscription, first_error

Event = tuple[int, dict[str, Any]]
# The types of an answer's last event.
TERMINAL = ("done", "error")
# How long a Redis command waits for one of the log's connections.
REDIS_WAIT_SECONDS = 20


class EventLog:
    """The interface both backends implement (async: it is used from the streams)."""

    async def append(self, answer_id: str, event_id: int, event: dict[str, Any]) -> None:
        await self.append_many(answer_id, [(event_id, event)])

    async def append_many(self, answer_id: str, events: list[Event]) -> None:
        raise NotImplementedError

    async def start(self, answer_id: str, state: dict[str, Any], *, lease_seconds: float) -> None:
        """A new answer: its state, its first lease, and its place among the running."""
        await self.state_set(answer_id, state)
        await self.lease_renew(answer_id, seconds=lease_seconds)
        await self.running_add(answer_id)

    async def end(self, answer_id: str, state: dict[str, Any]) -> None:
        """An answer is over: its last state (marked ended), its lease given up, and out
        of the running."""
        await self.state_set(answer_id, {**state, "status": "ended"})
        await self.lease_release(answer_id)
        await self.running_remove(answer_id)

    async def read(self, answer_id: str, *, after: int, wait: float) -> list[Event]:
        """Events after `after`, oldest first; waits up to `wait` seconds for the next
        ones when there are none yet ([] when none came)."""
        raise NotImplementedError

    async def state_set(self, answer_id: str, state: dict[str, Any]) -> None:
        raise NotImplementedError

    async def state_get(self, answer_id: str) -> dict[str, Any] | None:
        raise NotImplementedError

    async def lease_renew(self, answer_id: str, *, seconds: float) -> None:
        raise NotImplementedError

    async def lease_release(self, answer_id: str) -> None:
        raise NotImplementedError

    async def lease_alive(self, answer_id: str) -> bool:
        raise NotImplementedError

    async def listened(self, answer_id: str) -> None:
        """A client is reading the answer now."""
        raise NotImplementedError

    async def last_listened(self, answer_id: str) -> float | None:
        raise NotImplementedError

    async def stop_request(self, answer_id: str) -> None:
        raise NotImplementedError

    async def stop_wait(self, answer_id: str, *, wait: float, until: asyncio.Future | None = None) -> bool:
        """True once a stop was requested; waits up to `wait` seconds for one, or until
        `until` is done (the answer ended)."""
        raise NotImplementedError

    async def claim(self, answer_id: str, name: str, *, seconds: float) -> bool:
        """True for the one caller that claims `name` on this answer for `seconds`."""
        raise NotImplementedError

    async def running(self) -> list[str]:
        """The answers started and not yet marked ended (for the sweep)."""
        raise NotImplementedError

    async def running_add(self, answer_id: str) -> None:
        raise NotImplementedError

    async def running_remove(self, answer_id: str) -> None:
        raise NotImplementedError


# --- In memory (the embedded default: one process) -------------------------------------------


@dataclass
class _Entry:
    expires_at: float
    events: list[Event] = field(default_factory=list)
    state: dict[str, Any] | None = None
    lease_until: float = 0.0
    listened_at: float | None = None
    stop: bool = False
    claims: dict[str, float] = field(default_factory=dict)
    # (loop, future) of readers waiting for a change; readers may sit in other event loops.
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = field(default_factory=list)


class MemoryEventLog(EventLog):
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._running: set[str] = set()
        self._lock = threading.Lock()

    def _entry(self, answer_id: str) -> _Entry:
        now = time.time()
        ttl = settings.CHAT_EVENT_LOG_TTL_SECONDS
        entry = self._entries.get(answer_id)
        if entry is None or entry.expires_at < now:
            for key in [key for key, value in self._entries.items() if value.expires_at < now]:
                del self._entries[key]
            entry = self._entries[answer_id] = _Entry(expires_at=now + ttl)
        entry.expires_at = now + ttl
        return entry

    def _live(self, answer_id: str) -> _Entry | None:
        entry = self._entries.get(answer_id)
        return entry if entry is not None and entry.expires_at >= time.time() else None

    def _wake(self, entry: _Entry) -> None:
        waiters, entry.waiters = entry.waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that reader's loop has closed
                loop.call_soon_threadsafe(_resolve, future)

    async def _wait(self, answer_id: str, ready, wait: float, until: asyncio.Future | None = None):
        """`ready(entry)` now, or after the next change within `wait` seconds (or until
        `until` is done)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            with self._lock:
                entry = self._entry(answer_id)
                result = ready(entry)
                remaining = deadline - loop.time()
                if result or remaining <= 0:
                    return result
                future = loop.create_future()
                entry.waiters.append((loop, future))
            await wait_within(future, remaining, until=until)
            if until is not None and until.done():
                return ready(entry)

    async def append_many(self, answer_id, events):
        with self._lock:
            entry = self._entry(answer_id)
            entry.events.extend(events)
            overflow = len(entry.events) - settings.CHAT_EVENT_LOG_MAX_EVENTS
            if overflow > 0:
                del entry.events[:overflow]
            self._wake(entry)

    async def read(self, answer_id, *, after, wait):
        def newer(entry: _Entry) -> list[Event]:
            return [item for item in entry.events if item[0] > after]

        return await self._wait(answer_id, newer, wait)

    async def state_set(self, answer_id, state):
        with self._lock:
            self._entry(answer_id).state = dict(state)

    async def state_get(self, answer_id):
        with self._lock:
            entry = self._live(answer_id)
            return dict(entry.state) if entry is not None and entry.state is not None else None

    async def lease_renew(self, answer_id, *, seconds):
        with self._lock:
            self._entry(answer_id).lease_until = time.time() + seconds

    async def lease_release(self, answer_id):
        with self._lock:
            self._entry(answer_id).lease_until = 0.0

    async def lease_alive(self, answer_id):
        with self._lock:
            entry = self._live(answer_id)
            return entry is not None and entry.lease_until > time.time()

    async def listened(self, answer_id):
        with self._lock:
            self._entry(answer_id).listened_at = time.time()

    async def last_listened(self, answer_id):
        with self._lock:
            entry = self._live(answer_id)
            return entry.listened_at if entry is not None else None

    async def stop_request(self, answer_id):
        with self._lock:
            entry = self._entry(answer_id)
            entry.stop = True
            self._wake(entry)

    async def stop_wait(self, answer_id, *, wait, until=None):
        return await self._wait(answer_id, lambda entry: entry.stop, wait, until)

    async def claim(self, answer_id, name, *, seconds):
        with self._lock:
            entry = self._entry(answer_id)
            now = time.time()
            if entry.claims.get(name, 0.0) > now:
                return False
            entry.claims[name] = now + seconds
            return True

    async def running(self):
        with self._lock:
            return sorted(self._running)

    async def running_add(self, answer_id):
        with self._lock:
            self._running.add(answer_id)

    async def running_remove(self, answer_id):
        with self._lock:
            self._running.discard(answer_id)


def _resolve(future: asyncio.Future, result: Any = None) -> None:
    if not future.done():
        future.set_result(result)


async def wait_within(future: asyncio.Future, seconds: float, *, until: asyncio.Future | None = None) -> None:
    """Wait until `future` is done, `seconds` have passed or `until` is done, whichever comes
    first; `future` is resolved (with None) if it was not. With a timer, not
    `asyncio.wait_for`: that makes a task and cancels it, and the cancellation's traceback
    keeps the waiters' frames (and what they hold: the answer, its turn, its request) in
    reference cycles that only a full garbage collection frees, at up to 300 ms a pause
    under load."""
    loop = asyncio.get_running_loop()
    timer = loop.call_later(seconds, _resolve, future)

    def ended(_until: asyncio.Future) -> None:
        _resolve(future)

    if until is not None:
        until.add_done_callback(ended)
    try:
        await future
    finally:
        timer.cancel()
        if until is not None:
            until.remove_done_callback(ended)


# --- Redis Streams (every web process) ---------------------------------------------------------

PREFIX = "bytchat:answer:"
RUNNING_KEY = "bytchat:answers:running"
STOP_CHANNEL = "bytchat:answers:stop"
READ_BATCH = 500


def _expires(events: list[Event]) -> bool:
    """The log's time to live is set with its first event and again with its last (a log
    whose first write was lost still expires); not with the chunks of text between them."""
    return any(event_id == 1 or event["type"] in TERMINAL for event_id, event in events)


class RedisEventLog(EventLog):
    def __init__(self, url: str) -> None:
        self.url = url
        # A redis.asyncio client belongs to the event loop that made it; so do the answers
        # waiting on the stop channel.
        self._clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._stop_waiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # The writes of every answer, its start, lease, stop check and end go through one
        # pipelined connection per event loop; the reads and the rest through redis-py.
        self._pipe = RedisPipe(url, connect_timeout=REDIS_WAIT_SECONDS)
        # The stop channel, one subscribed connection per event loop. Not redis-py's
        # pubsub: its listening task, cancelled as its loop closed, could swallow the
        # cancellation and keep listening, and the loop's shutdown then waited for ever.
        self._stops = RedisSubscription(url, STOP_CHANNEL, self._stopped, connect_timeout=REDIS_WAIT_SECONDS)
        # Appends made in this turn of each event loop, not yet sent (`append_many`).
        self._pending: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _redis(self):
        import redis.asyncio

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # Past its connections a command waits for one (up to REDIS_WAIT_SECONDS) rather
            # than failing, as redis-py's default pool does at 100.
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self.url,
                max_connections=settings.CHAT_EVENT_LOG_REDIS_CONNECTIONS,
                timeout=REDIS_WAIT_SECONDS,
                decode_responses=True,
            )
            client = self._clients[loop] = redis.asyncio.Redis(connection_pool=pool)
        return client

    @staticmethod
    def _key(answer_id: str, part: str) -> str:
        return f"{PREFIX}{answer_id}:{part}"

    @property
    def _ttl(self) -> int:
        return settings.CHAT_EVENT_LOG_TTL_SECONDS

    async def append_many(self, answer_id, events):
        """Written with the other answers' events of this moment: the events that every
        answer of this process appends while the event loop runs its ready tasks go to
        Redis together, in one write, as soon as they have run. Each appender still waits
        for its own events to be written (a client reads nothing unlogged); under load,
        when many streams' chunks arrive at once, that is one round trip for all."""
        loop = asyncio.get_running_loop()
        key = self._key(answer_id, "events")
        commands = [self._xadd(key, event) for event in events]
        if _expires(events):
            commands.append(["EXPIRE", key, self._ttl])
        call = Call(commands)
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self._send, loop, pending)
        pending.append(call)
        error = first_error(await asyncio.shield(call.done))
        if error is not None:
            raise error

    def _send(self, loop: asyncio.AbstractEventLoop, pending: list[Call]) -> None:
        if self._pending.get(loop) is pending:
            del self._pending[loop]
        self._write(pending)

    def _write(self, calls: list[Call]) -> None:
        self._pipe.send(calls)

    @staticmethod
    def _xadd(key: str, item: Event) -> list[Any]:
        event_id, event = item
        return [
            "XADD",
            key,
            "MAXLEN",
            "~",
            settings.CHAT_EVENT_LOG_MAX_EVENTS,
            f"0-{event_id}",
            "e",
            json.dumps(event, ensure_ascii=False, separators=(",", ":")),
        ]

    async def start(self, answer_id, state, *, lease_seconds):
        await self._pipe.call(
            ["SET", self._key(answer_id, "state"), json.dumps(state), "EX", self._ttl],
            self._lease(answer_id, lease_seconds),
            ["SADD", RUNNING_KEY, answer_id],
        )

    async def end(self, answer_id, state):
        await self._pipe.call(
            ["SET", self._key(answer_id, "state"), json.dumps({**state, "status": "ended"}), "EX", self._ttl],
            ["DEL", self._key(answer_id, "lease")],
            ["SREM", RUNNING_KEY, answer_id],
        )

    def _lease(self, answer_id: str, seconds: float) -> list[Any]:
        return ["SET", self._key(answer_id, "lease"), "1", "PX", max(1, int(seconds * 1000))]

    async def read(self, answer_id, *, after, wait):
        key = self._key(answer_id, "events")
        redis = self._redis()
        found = await redis.xread({key: f"0-{after}"}, count=READ_BATCH)
        if not found and wait > 0:
            found = await redis.xread({key: f"0-{after}"}, count=READ_BATCH, block=max(1, int(wait * 1000)))
        events: list[Event] = []
        for _stream, entries in found or []:
            for stream_id, fields in entries:
                events.append((int(stream_id.split("-", 1)[1]), json.loads(fields["e"])))
        return events

    async def state_set(self, answer_id, state):
        await self._redis().set(self._key(answer_id, "state"), json.dumps(state), ex=self._ttl)

    async def state_get(self, answer_id):
        raw = await self._redis().get(self._key(answer_id, "state"))
        return json.loads(raw) if raw else None

    async def lease_renew(self, answer_id, *, seconds):
        await self._pipe.call(self._lease(answer_id, seconds))

    async def lease_release(self, answer_id):
        await self._redis().delete(self._key(answer_id, "lease"))

    async def lease_alive(self, answer_id):
        return bool(await self._redis().exists(self._key(answer_id, "lease")))

    async def listened(self, answer_id):
        await self._redis().set(self._key(answer_id, "listened"), repr(time.time()), ex=self._ttl)

    async def last_listened(self, answer_id):
        raw = await self._redis().get(self._key(answer_id, "listened"))
        return float(raw) if raw else None

    async def stop_request(self, answer_id):
        async with self._redis().pipeline(transaction=False) as pipe:
            pipe.set(self._key(answer_id, "stop"), "1", ex=self._ttl)
            pipe.publish(STOP_CHANNEL, answer_id)
            await pipe.execute()

    async def stop_wait(self, answer_id, *, wait, until=None):
        """The stop key, then the stop channel for `wait` seconds: one subscription per
        process and event loop wakes every waiting answer, and no connection blocks."""
        if (await self._pipe.call(["EXISTS", self._key(answer_id, "stop")]))[0]:
            return True
        if wait <= 0 or (until is not None and until.done()):
            return False
        loop = asyncio.get_running_loop()
        stopped = loop.create_future()
        waiting = self._stop_waiters.setdefault(loop, {})
        waiting.setdefault(answer_id, set()).add(stopped)
        try:
            await self._stops.subscribed()
            await wait_within(stopped, wait, until=until)
        finally:
            others = waiting.get(answer_id, set())
            others.discard(stopped)
            if not others:
                waiting.pop(answer_id, None)
        return stopped.result() is True

    def _stopped(self, answer_id: bytes) -> None:
        # Called from the subscription's protocol: whatever the channel carries must not
        # raise there (it would drop the connection, and every answer's stop with it).
        waiting = self._stop_waiters.get(asyncio.get_running_loop(), {})
        for stopped in waiting.get(answer_id.decode(errors="replace"), ()):
            _resolve(stopped, True)

    async def claim(self, answer_id, name, *, seconds):
        key = self._key(answer_id, f"claim:{name}")
        return bool(await self._redis().set(key, "1", nx=True, px=max(1, int(seconds * 1000))))

    async def running(self):
        return sorted(await self._redis().smembers(RUNNING_KEY))

    async def running_add(self, answer_id):
        await self._redis().sadd(RUNNING_KEY, answer_id)

    async def running_remove(self, answer_id):
        await self._redis().srem(RUNNING_KEY, answer_id)


_log: EventLog | None = None
_log_lock = threading.Lock()


def event_log() -> EventLog:
    """The configured backend (`CHAT_EVENT_LOG`: `redis` or `memory`), one per process."""
    global _log
    with _log_lock:
        if _log is None:
            if settings.CHAT_EVENT_LOG == "redis":
                _log = RedisEventLog(settings.REDIS_URL)
            else:
                _log = MemoryEventLog()
        return _log


def event_log_reset() -> None:
    """Forget the backend (tests that change the settings)."""
    global _log
    with _log_lock:
        _log = None

"""Answers that are not tied to one client connection: stop, resume, detached model calls.

`answer_stream` runs the engine's event stream (`engine.chat_events`) in a task of its own
and writes every event, numbered, to the answer's event log (`chat.services.event_log`)
before its client reads it. So:

- a client that loses its connection resumes with `answer_events(after=last id)`, on this
  process or any other that shares the log (Redis);
- the model call goes on when its client goes away, until the user stops it
  (`answer_stop`, from any process) or no one has listened for
  `CHAT_RESUME_TIMEOUT_SECONDS`; then it ends and is stored `incomplete`;
- while it runs, its process renews a lease. A reader (or the sweep) that finds the lease
  lapsed stores the answer `incomplete` from the text in the log: a process that died
  mid-answer loses nothing a client saw.

Each answer ends with one terminal event in its log: the engine's `done` or `error`, or one
added here: `done` with `stopped: true` (stopped by its user) or `incomplete: true`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError

from bytchat.api.sse import with_keepalive
from bytchat.db import async_db_step
from bytchat.errors import NotFound
from bytchat.threads import own_thread
from chat.errors import AnswerEnded, AnswerEventsExpired, AnswerStopTimeout
from chat.llm.base import estimate_tokens
from chat.models import Message, MessageRole, MessageStatus, Run, RunStatus, UsageSource
from chat.services import engine, limits
from chat.services.event_log import TERMINAL, Event, event_log

logger = logging.getLogger(__name__)

# What a reader yields when no event came for its `idle` seconds (a keep-alive).
IDLE = None
# How long `answer_stop` waits for the answer to end before giving up.
STOP_WAIT_SECONDS = 30.0


def _heartbeat() -> float:
    return settings.CHAT_ANSWER_HEARTBEAT_MS / 1000


def _lease_seconds() -> float:
    return 3 * _heartbeat()


@dataclass
class _Running:
    """An answer whose model call runs in this process."""

    turn: engine.Turn
    answer_id: str
    loop: asyncio.AbstractEventLoop
    events: list[Event] = field(default_factory=list)
    listeners: int = 0
    last_listened: float = field(default_factory=time.time)
    stop_reason: str | None = None  # "stopped" | "abandoned"
    finished: bool = False
    task: asyncio.Task | None = None
    watcher: asyncio.Task | None = None
    # Done when the answer has ended: its watcher stops waiting then (not cancelled).
    ended: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    # Events not yet in the log, and the task writing them (one at a time, in order).
    unlogged: list[Event] = field(default_factory=list)
    writer: asyncio.Task | None = None
    # The state the log started with (`_state_of`), which its end marks ended.
    state: dict[str, Any] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()

    def stop(self, reason: str) -> None:
        if self.stop_reason is None and not self.finished and self.task is not None:
            self.stop_reason = reason
            self.task.cancel()


# This process's running answers, by id; the tasks are kept here so they are not collected.
_running: dict[str, _Running] = {}
_tasks: set[asyncio.Task] = set()


def _state_of(turn: engine.Turn) -> dict[str, Any]:
    """What a reader needs to check ownership, and to store the answer if this process dies."""
    hold = turn.token_hold
    return {
        "status": "running",
        "user_id": str(turn.user_id),
        "bot_id": str(turn.bot_id),
        "conversation_id": str(turn.conversation_id),
        "user_message_id": str(turn.user_message_id),
        "question": turn.question,
        "task_type": turn.task_type,
        "prompt_tokens": estimate_tokens(
            [turn.system_prompt, *(message.content for message in turn.history)]
        ),
        "token_hold": (
            {"usage_id": hold.usage_id, "reservation_id": str(hold.reservation_id), "tokens": hold.tokens}
            if hold is not None
            else None
        ),
        "started_at": time.time() - (time.perf_counter() - turn.started),
    }


async def _emit(run: _Running, event: dict[str, Any]) -> None:
    """Give the event its id and hand it to this process's readers and to the log.

    Text and the end are logged before any client reads them, so the answer stored after
    this process dies holds all that was streamed. The events before the text go to the
    log right behind the stream, off the path to the first token."""
    item = (len(run.events) + 1, event)
    run.unlogged.append(item)
    if event["type"] == "delta" or event["type"] in TERMINAL:
        try:
            await _flush(run)
        except asyncio.CancelledError:  # stopped meanwhile: the event still goes out, in order
            run.events.append(item)
            run.notify()
            raise
    elif run.writer is None or run.writer.done():
        run.writer = _spawn(_write_log(run))
    run.events.append(item)
    run.notify()


async def _write_log(run: _Running) -> None:
    log = event_log()
    while run.unlogged:
        batch, run.unlogged = run.unlogged, []
        try:
            await log.append_many(run.answer_id, batch)
        except Exception:  # the stream goes on; a resume may miss these
            logger.warning("Could not log events of answer %s", run.answer_id, exc_info=True)


async def _flush(run: _Running) -> None:
    """Every event so far is in the log (in order: the log refuses an id out of turn)."""
    while run.writer is not None and not run.writer.done():
        await asyncio.shield(run.writer)
    await _write_log(run)


def _final_event(turn: engine.Turn, reason: str) -> dict[str, Any]:
    outcome = turn.outcome
    event: dict[str, Any] = {
        "type": "done",
        "message_id": str(turn.assistant_message_id),
        "tokens_used": (outcome.input_tokens + outcome.output_tokens) if outcome else 0,
        "model": outcome.model if outcome else "",
        "provider": outcome.provider if outcome else "",
        "latency_ms": int((time.perf_counter() - turn.started) * 1000),
    }
    event["stopped" if reason == "stopped" else "incomplete"] = True
    return event


def _mark_stopped(answer_id: str) -> None:
    """The engine stores an answer cut short as incomplete; its user stopped it."""
    Message.objects.filter(pk=answer_id, status=MessageStatus.INCOMPLETE).update(status=MessageStatus.STOPPED)
    Run.objects.filter(message_id=answer_id, status=RunStatus.INCOMPLETE).update(status=RunStatus.STOPPED)


async def _produce(run: _Running) -> None:
    # It outlives its request: its database steps run in a reused thread of its own.
    async with own_thread():
        await _relay(run)


async def _relay(run: _Running) -> None:
    log = event_log()
    events = engine.chat_events(run.turn)
    ended = False
    try:
        async for event in events:
            ended = event["type"] in TERMINAL
            await _emit(run, event)
    except asyncio.CancelledError:
        pass  # stopped, abandoned, or the server shutting down: stored below
    except Exception:
        logger.exception("Answer %s failed", run.answer_id)
    finally:
        with contextlib.suppress(Exception):
            await events.aclose()  # stores the answer if the engine has not yet
        try:
            # Unless its question's writes did not fit: then no answer, nothing in the log.
            if run.turn.pending is None:
                await _end_log(run, log, ended=ended)
        except Exception:
            logger.exception("Could not close the event log of answer %s", run.answer_id)
        finally:
            run.finished = True
            run.notify()
            _running.pop(run.answer_id, None)
            # Its watcher returns (cancelled, it left a traceback holding this answer's
            # objects in a reference cycle, for a full garbage collection to free).
            if not run.ended.done():
                run.ended.set_result(None)


async def _end_log(run: _Running, log, *, ended: bool) -> None:
    if not ended:
        reason = run.stop_reason or "abandoned"
        if reason == "stopped":
            await async_db_step(_mark_stopped)(run.answer_id)
        await _emit(run, _final_event(run.turn, reason))
    await _flush(run)
    await log.end(run.answer_id, run.state or _state_of(run.turn))


async def _watch(run: _Running) -> None:
    """Renew the lease; stop the model call on request, or when no one has listened for
    `CHAT_RESUME_TIMEOUT_SECONDS`."""
    log = event_log()
    while not run.finished:
        try:
            if await log.stop_wait(run.answer_id, wait=_heartbeat(), until=run.ended):
                run.stop("stopped")
                return
            if run.finished:
                return
            await log.lease_renew(run.answer_id, seconds=_lease_seconds())
            if run.listeners == 0 and not run.finished:
                remote = await log.last_listened(run.answer_id) or 0.0
                if time.time() - max(run.last_listened, remote) > settings.CHAT_RESUME_TIMEOUT_SECONDS:
                    run.stop("abandoned")
                    return
        except asyncio.CancelledError:
            raise
        except Exception:  # the log is unreachable for a moment: the answer goes on
            logger.warning("Heartbeat of answer %s failed", run.answer_id, exc_info=True)
            await asyncio.wait([run.ended], timeout=_heartbeat())


def _spawn(coroutine) -> asyncio.Task:
    task = asyncio.get_running_loop().create_task(coroutine)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


async def answer_start(turn: engine.Turn) -> _Running:
    """Start the model call of a prepared turn, detached from the caller. A turn whose
    question's writes are pending (`engine.chat_prepare(write_later=True)`) returns once
    they are sent, while the model is asked, or raises the limit they hit: nothing is
    stored then, and the model's call is cancelled."""
    answer_id = str(turn.assistant_message_id)
    run = _Running(turn=turn, answer_id=answer_id, loop=asyncio.get_running_loop())
    _running[answer_id] = run
    written = engine.turn_writes_expected(turn)
    # Sent before the first event, but not waited for: it overlaps the knowledge search, and
    # the first text waits for it (`_flush`).
    run.writer = _spawn(_start_log(run))
    run.task = _spawn(_produce(run))
    run.watcher = _spawn(_watch(run))
    if written is not None:
        # Shielded: a client that leaves meanwhile leaves an answer that goes on, as later.
        await asyncio.shield(written)
    return run


async def _start_log(run: _Running) -> None:
    if run.turn.written is not None:
        try:
            await asyncio.shield(run.turn.written)
        except BaseException:
            return  # the question was not stored: neither is anything of its answer
    run.state = _state_of(run.turn)
    try:
        await event_log().start(run.answer_id, run.state, lease_seconds=_lease_seconds())
    except Exception:
        logger.warning("Could not start the event log of answer %s", run.answer_id, exc_info=True)


class _KeepAlive:
    """Tells a reader when `idle` seconds passed since it last yielded: one timer a reader,
    due at most once per `idle` (a timeout around each wait cost more per event than the
    generic keep-alive's queue hand-off it replaces). It wakes the readers to say so."""

    def __init__(self, run: _Running, idle: float) -> None:
        self.run, self.idle = run, idle
        self.loop = asyncio.get_running_loop()
        self.last = self.loop.time()
        self.due = False
        self._timer = self.loop.call_at(self.last + idle, self._check)

    def _check(self) -> None:
        now = self.loop.time()
        if now - self.last >= self.idle:
            self.due = True
            self.run.notify()
            self.last = now
        self._timer = self.loop.call_at(self.last + self.idle, self._check)

    def sent(self) -> None:
        self.last = self.loop.time()
        self.due = False  # an event went out: no keep-alive needed

    def close(self) -> None:
        self._timer.cancel()


async def _read_local(run: _Running, *, after: int, idle: float | None = None) -> AsyncIterator[Event | None]:
    run.listeners += 1
    keep_alive = _KeepAlive(run, idle) if idle is not None else None
    try:
        index = 0
        while True:
            while index < len(run.events):
                event_id, event = run.events[index]
                index += 1
                if event_id > after:
                    yield event_id, event
                    if event["type"] in TERMINAL:
                        # The stream closes once the answer is stored, as it always has.
                        while not run.finished:
                            await run._wake.wait()
                        return
                    if keep_alive is not None:
                        keep_alive.sent()
            if run.finished:
                return
            await run._wake.wait()
            if keep_alive is not None and keep_alive.due:
                keep_alive.due = False
                yield IDLE
    finally:
        if keep_alive is not None:
            keep_alive.close()
        run.listeners -= 1
        run.last_listened = time.time()


async def answer_stream(turn: engine.Turn, *, idle: float | None = None) -> AsyncIterator[Event | None]:
    """Start the answer and read its events, numbered. Closing this iterator (the client
    went away) does not end the model call. With `idle`, `IDLE` comes whenever no event
    came for that many seconds (an SSE keep-alive): the reader keeps one timer for it
    (`_KeepAlive`), where a generic keep-alive (`bytchat.api.sse.with_keepalive`) costs a
    task and a queue hand-off per event."""
    if settings.CHAT_EVENT_LOG == "off":  # the stream is the model call, as it once was
        async with contextlib.aclosing(_numbered(engine.chat_events(turn))) as events:
            source = events if idle is None else with_keepalive(events, interval=idle, keepalive=IDLE)
            async for item in source:
                yield item
        return
    run = await answer_start(turn)
    async for item in _read_local(run, after=0, idle=idle):
        yield item


async def _numbered(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[Event]:
    try:
        number = 0
        async for event in events:
            number += 1
            yield number, event
    finally:
        await events.aclose()


async def answer_stream_events(
    turn: engine.Turn, *, idle: float | None = None
) -> AsyncIterator[dict[str, Any] | None]:
    """`answer_stream` without the ids, for surfaces whose protocol has none."""
    async for item in answer_stream(turn, idle=idle):
        yield item if item is IDLE else item[1]


async def answer_state(*, user_id: Any, answer_id: Any) -> dict[str, Any]:
    """The state of the caller's own answer; NotFound for anyone else's or no answer.
    An answer of theirs with no log (ended long ago) is AnswerEventsExpired."""
    run = _running.get(str(answer_id))
    state = _state_of(run.turn) if run is not None else await event_log().state_get(str(answer_id))
    if state is not None:
        if state["user_id"] != str(user_id):
            raise NotFound("Answer not found.")
        return state
    exists = await async_db_step(
        lambda: Message.objects.filter(
            pk=answer_id, role=MessageRole.ASSISTANT, conversation__user_id=user_id
        ).exists()
    )()
    if exists:
        raise AnswerEventsExpired()
    raise NotFound("Answer not found.")


async def answer_events(
    *, user_id: Any, answer_id: Any, after: int = 0, idle: float | None = None
) -> AsyncIterator[Event | None]:
    """The events of the caller's answer after event `after`, then its live tail up to its
    terminal event (with `idle`, `IDLE` when none came for that long, as `answer_stream`).
    Call `answer_state` first (it raises the errors a client should hear before its
    stream starts)."""
    answer_id = str(answer_id)
    run = _running.get(answer_id)
    if run is not None and run.loop is asyncio.get_running_loop():
        async for item in _read_local(run, after=after, idle=idle):
            yield item
        return
    log = event_log()
    last = after
    heard = time.monotonic()
    while True:
        items = await log.read(answer_id, after=last, wait=_heartbeat())
        await log.listened(answer_id)
        if items:
            heard = time.monotonic()
        elif idle is not None and time.monotonic() - heard >= idle:
            heard = time.monotonic()
            yield IDLE
        for event_id, event in items:
            last = event_id
            yield event_id, event
            if event["type"] in TERMINAL:
                return
        if items:
            continue
        state = await log.state_get(answer_id)
        if state is None:
            return  # expired while we read
        if state["status"] == "ended":
            if not await log.read(answer_id, after=last, wait=0):
                return
        elif not await log.lease_alive(answer_id):
            await _recover(answer_id, state, reason="incomplete", seen=last)


async def _recover(answer_id: str, state: dict[str, Any], *, reason: str, seen: int = 0) -> None:
    """Store an answer whose process died, from the text its log holds, and end its log."""
    log = event_log()
    if not await log.claim(answer_id, "recover", seconds=60):
        return  # another reader is doing it
    events = await log.read(answer_id, after=0, wait=0)
    while events and len(events) % 500 == 0:  # the log is read in batches
        more = await log.read(answer_id, after=events[-1][0], wait=0)
        if not more:
            break
        events += more
    if any(event["type"] in TERMINAL for _, event in events):
        return
    content = "".join(event["content"] for _, event in events if event["type"] == "delta")
    prompt_sent = any(
        event["type"] == "tool_use" and event.get("status") == "complete" for _, event in events
    )
    turn = await async_db_step(_store_recovered)(answer_id, state, content, prompt_sent, reason)
    # A client may have read an event that its dying process never logged: the end comes after.
    last_id = max(events[-1][0] if events else 0, seen)
    try:
        await log.append(answer_id, last_id + 1, _final_event(turn, reason))
    except Exception:  # a late event of a process thought dead: the log has its own end
        logger.warning("Could not end the log of recovered answer %s", answer_id, exc_info=True)
    await log.end(answer_id, state)  # its lease lapsed with its process


def _store_recovered(
    answer_id: str, state: dict[str, Any], content: str, prompt_sent: bool, reason: str
) -> engine.Turn:
    hold = state.get("token_hold")
    turn = engine.Turn(
        user_id=state["user_id"],
        bot_id=state["bot_id"],
        conversation_id=state["conversation_id"],
        user_message_id=state["user_message_id"],
        assistant_message_id=uuid.UUID(answer_id),
        question=state["question"],
        task_type=state["task_type"],
        language="",
        user_language="",
        system_prompt="",
        specs=[],
        history=[],
        bot=None,
        token_hold=(
            limits.TokenHold(
                usage_id=hold["usage_id"],
                reservation_id=uuid.UUID(hold["reservation_id"]),
                tokens=hold["tokens"],
            )
            if hold
            else None
        ),
        started=time.perf_counter() - (time.time() - state["started_at"]),
    )
    outcome = engine._Outcome(content=content, status=RunStatus.INCOMPLETE)
    if prompt_sent:  # the model had the prompt: count it, and what it wrote
        outcome.input_tokens = state["prompt_tokens"] + estimate_tokens([state["question"]])
        outcome.output_tokens = estimate_tokens([content]) if content else 0
        outcome.usage_source = UsageSource.ESTIMATED
    if Message.objects.filter(pk=answer_id).exists():
        turn.outcome = outcome  # its process stored it before dying
        return turn
    try:
        engine._store_answer(turn, outcome)
    except IntegrityError:  # stored by its own process meanwhile
        turn.outcome = outcome
        return turn
    if reason == "stopped":
        _mark_stopped(answer_id)
    return turn


async def answer_stop(*, user_id: Any, answer_id: Any) -> dict[str, Any]:
    """Stop the caller's running answer, from any process: the model call ends, the
    partial answer is stored `stopped` with its tokens, and every listener gets `done`
    with `stopped: true`, which this returns. AnswerEnded if it had already ended."""
    answer_id = str(answer_id)
    try:
        state = await answer_state(user_id=user_id, answer_id=answer_id)
    except AnswerEventsExpired:
        raise AnswerEnded() from None
    if state["status"] == "ended":
        raise AnswerEnded()
    log = event_log()
    await log.stop_request(answer_id)
    run = _running.get(answer_id)
    if run is not None and run.loop is asyncio.get_running_loop():
        run.stop("stopped")
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    last = 0
    while time.monotonic() < deadline:
        items = await log.read(answer_id, after=last, wait=_heartbeat())
        for event_id, event in items:
            last = event_id
            if event["type"] in TERMINAL:
                if event.get("stopped"):
                    return event
                raise AnswerEnded()
        if not items and not await log.lease_alive(answer_id):
            state = await log.state_get(answer_id)
            if state is not None and state["status"] != "ended":
                await _recover(answer_id, state, reason="stopped")
    raise AnswerStopTimeout()


async def answers_sweep() -> int:
    """Store the answers whose process died and that no reader recovered. Returns how many."""
    log = event_log()
    recovered = 0
    for answer_id in await log.running():
        state = await log.state_get(answer_id)
        if state is None or state["status"] == "ended":
            await log.running_remove(answer_id)
        elif not await log.lease_alive(answer_id):
            await _recover(answer_id, state, reason="incomplete")
            recovered += 1
    return recovered

"""Answers detached from their client: stop, resume by event id, the resume timeout and
the recovery of an answer whose process died (the in-memory event log of the embedded
default; `test_answers_two_servers.py` runs the same across two servers on Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest
from asgiref.sync import async_to_sync
from django.db import connections
from django.test import AsyncClient

from accounts.services import auth_tokens_issue
from bots.tests.factories import make_bot
from chat.models import Message, MessageStatus, Run, RunStatus, TokenReservation, UsageSource
from chat.services import answers, engine
from chat.services.conversations import AtLimit
from chat.services.event_log import PREFIX, RUNNING_KEY, STOP_CHANNEL, event_log, event_log_reset
from chat.tests.fakes.llm_servers import OPENAI_PIECES, FakeServer, OpenAIHandler
from chat.tests.helpers import parse_sse, stream_chat


def _forget_logs() -> None:
    """Drop every answer's log (they expired)."""
    from django.conf import settings

    if settings.CHAT_EVENT_LOG == "redis":
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = [*client.scan_iter(f"{PREFIX}*"), RUNNING_KEY]
        client.delete(*keys)
        client.close()
    event_log_reset()


@pytest.fixture(autouse=True, params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def _fresh_log(request, settings):
    settings.CHAT_EVENT_LOG = request.param
    settings.CHAT_ANSWER_HEARTBEAT_MS = 50
    _forget_logs()
    yield
    _forget_logs()


@pytest.fixture
def fake_openai(settings):
    settings.OPENAI_COMPATIBLE_API_KEY = "test-key"
    settings.PROVIDER_TIMEOUT_SECONDS = 10
    with FakeServer(OpenAIHandler) as fake:
        settings.OPENAI_COMPATIBLE_BASE_URL = f"{fake.url}/v1"
        yield fake


def _turn(user, model_id: str, question: str = "How long do refunds take?") -> engine.Turn:
    bot = make_bot(owner=user, configs=[{"provider": "openai_compatible", "model_id": model_id}])
    return engine.chat_prepare(user=user, bot_id=bot.pk, message=question, at_limit=AtLimit.REFUSE)


async def _until_first_delta(stream) -> list:
    seen = []
    async for event_id, event in stream:
        seen.append((event_id, event))
        if event["type"] == "delta":
            return seen
    raise AssertionError(f"no delta in {seen}")


async def _finished(answer_id: str) -> None:
    run = answers._running.get(answer_id)
    if run is not None and run.task is not None:
        await asyncio.wait_for(asyncio.shield(run.task), 10)
        while answer_id in answers._running:
            await asyncio.sleep(0.01)


@pytest.mark.django_db
def test_stop_keeps_the_partial_answer_counts_its_tokens_and_tells_every_listener(user, fake_openai):
    turn = _turn(user, "stall-after-first")
    answer_id = str(turn.assistant_message_id)

    async def run():
        stream = answers.answer_stream(turn)
        seen = await _until_first_delta(stream)
        resumed = answers.answer_events(user_id=user.pk, answer_id=answer_id, after=seen[-1][0])
        final = await answers.answer_stop(user_id=user.pk, answer_id=answer_id)
        rest = [item async for item in stream]
        rest_of_resumed = [item async for item in resumed]
        return seen, final, rest, rest_of_resumed

    seen, final, rest, resumed = async_to_sync(run)()
    assert final["type"] == "done" and final["stopped"] is True and final["tokens_used"] > 0
    assert rest[-1][1] == final and resumed[-1][1] == final
    ids = [event_id for event_id, _ in seen + rest]
    assert ids == list(range(1, len(ids) + 1))
    message = Message.objects.get(pk=answer_id)
    assert message.status == MessageStatus.STOPPED
    assert message.content == OPENAI_PIECES[0]
    run_row = Run.objects.get(message=message)
    assert run_row.status == RunStatus.STOPPED and run_row.usage_source == UsageSource.ESTIMATED
    assert run_row.input_tokens > 0 and run_row.output_tokens > 0


@pytest.mark.django_db
def test_stopping_an_answer_that_ended_is_a_conflict(user):
    bot = make_bot(owner=user)
    turn = engine.chat_prepare(user=user, bot_id=bot.pk, message="Hello?", at_limit=AtLimit.REFUSE)

    async def run():
        events = [item async for item in answers.answer_stream(turn)]
        with pytest.raises(answers.AnswerEnded):
            await answers.answer_stop(user_id=user.pk, answer_id=turn.assistant_message_id)
        return events

    events = async_to_sync(run)()
    assert events[-1][1]["type"] == "done" and "stopped" not in events[-1][1]


@pytest.mark.django_db
def test_a_client_that_goes_away_does_not_end_the_model_call(user, fake_openai):
    turn = _turn(user, "hold-after-first")
    answer_id = str(turn.assistant_message_id)

    async def run():
        stream = answers.answer_stream(turn)
        seen = await _until_first_delta(stream)
        await stream.aclose()  # the connection dropped
        fake_openai.release()
        # Resumed from before the first piece, which the client had not shown.
        after = seen[-1][0] - 1
        resumed = [
            item async for item in answers.answer_events(user_id=user.pk, answer_id=answer_id, after=after)
        ]
        await _finished(answer_id)
        return after, resumed

    after, resumed = async_to_sync(run)()
    assert [event["content"] for _, event in resumed if event["type"] == "delta"] == OPENAI_PIECES
    assert [event_id for event_id, _ in resumed] == list(range(after + 1, after + 1 + len(resumed)))
    assert resumed[-1][1]["type"] == "done" and "incomplete" not in resumed[-1][1]
    message = Message.objects.get(pk=answer_id)
    assert message.status == MessageStatus.COMPLETE and message.content == "".join(OPENAI_PIECES)


@pytest.mark.django_db
def test_a_quiet_answer_keeps_its_readers_alive_here_and_through_the_log(user, fake_openai):
    """With `idle`, a reader yields IDLE (the SSE keep-alive) whenever no event came for
    that long: the reader in this process and one that reads the log, as another web
    process would; then the answer goes on."""
    turn = _turn(user, "hold-after-first")
    answer_id = str(turn.assistant_message_id)

    async def until_idle(stream) -> list:
        """The events up to the first delta, then to the first keep-alive after it (one
        before it, on a slow machine, is dropped)."""
        items = []
        async for item in stream:
            if item is answers.IDLE and any(event["type"] == "delta" for _, event in items):
                return [*items, item]
            if item is not answers.IDLE:
                items.append(item)
        raise AssertionError(f"no keep-alive in {items}")

    async def run():
        local = answers.answer_stream(turn, idle=0.05)
        before_local = await until_idle(local)
        run = answers._running[answer_id]
        run.loop = None  # as if it ran in another process: read through the log
        remote = answers.answer_events(user_id=user.pk, answer_id=answer_id, after=0, idle=0.05)
        before_remote = await until_idle(remote)
        fake_openai.release()
        rest_local = [item async for item in local]
        rest_remote = [item async for item in remote]
        await _finished(answer_id)
        return before_local, before_remote, rest_local, rest_remote

    before_local, before_remote, rest_local, rest_remote = async_to_sync(run)()
    for before, rest in ((before_local, rest_local), (before_remote, rest_remote)):
        events = [item[1] for item in before[:-1]]
        assert [event["content"] for event in events if event["type"] == "delta"] == OPENAI_PIECES[:1]
        deltas = [
            item[1]["content"] for item in rest if item is not answers.IDLE and item[1]["type"] == "delta"
        ]
        assert deltas == OPENAI_PIECES[1:]
        assert rest[-1][1]["type"] == "done"


@pytest.mark.django_db
def test_an_answer_no_one_resumes_ends_incomplete_after_the_timeout(user, fake_openai, settings):
    settings.CHAT_RESUME_TIMEOUT_SECONDS = 0
    turn = _turn(user, "stall-after-first")
    answer_id = str(turn.assistant_message_id)

    async def run():
        stream = answers.answer_stream(turn)
        await _until_first_delta(stream)
        await stream.aclose()
        await _finished(answer_id)
        return await event_log().read(answer_id, after=0, wait=0)

    logged = async_to_sync(run)()
    assert logged[-1][1]["type"] == "done" and logged[-1][1]["incomplete"] is True
    message = Message.objects.get(pk=answer_id)
    assert message.status == MessageStatus.INCOMPLETE and message.content == OPENAI_PIECES[0]
    assert Run.objects.get(message=message).status == RunStatus.INCOMPLETE


def _orphan(turn: engine.Turn, pieces: list[str]) -> str:
    """The log of an answer whose process died after streaming `pieces`: lease lapsed."""
    answer_id = str(turn.assistant_message_id)
    log = event_log()

    async def write():
        await log.state_set(answer_id, answers._state_of(turn))
        await log.running_add(answer_id)
        events = [
            {"type": "session_init", "message_id": answer_id},
            {"type": "tool_use", "tool": "knowledge_search", "status": "start"},
            {"type": "tool_use", "tool": "knowledge_search", "status": "complete"},
            *({"type": "delta", "content": piece} for piece in pieces),
        ]
        for number, event in enumerate(events, start=1):
            await log.append(answer_id, number, event)

    async_to_sync(write)()
    return answer_id


@pytest.mark.django_db
def test_a_reader_stores_the_answer_of_a_dead_process_as_incomplete_with_what_was_streamed(user):
    bot = make_bot(owner=user)
    turn = engine.chat_prepare(user=user, bot_id=bot.pk, message="Refunds?", at_limit=AtLimit.REFUSE)
    answer_id = _orphan(turn, ["Refunds take ", "30 days"])

    async def resume():
        return [item async for item in answers.answer_events(user_id=user.pk, answer_id=answer_id, after=4)]

    resumed = async_to_sync(resume)()
    assert resumed[0] == (5, {"type": "delta", "content": "30 days"})
    assert resumed[-1][0] == 6 and resumed[-1][1]["incomplete"] is True
    message = Message.objects.get(pk=answer_id)
    assert message.status == MessageStatus.INCOMPLETE and message.content == "Refunds take 30 days"
    run_row = Run.objects.get(message=message)
    assert run_row.usage_source == UsageSource.ESTIMATED and run_row.output_tokens > 0
    assert resumed[-1][1]["tokens_used"] == run_row.input_tokens + run_row.output_tokens
    if turn.token_hold is not None:  # its hold is given back
        assert not TokenReservation.objects.filter(pk=turn.token_hold.reservation_id).exists()
    # Read again: the same end, stored once.
    assert async_to_sync(resume)()[-1] == resumed[-1]
    assert Message.objects.filter(pk=answer_id).count() == 1


@pytest.mark.django_db
def test_the_sweep_stores_orphaned_answers_no_one_resumed(user):
    bot = make_bot(owner=user)
    turn = engine.chat_prepare(user=user, bot_id=bot.pk, message="Refunds?", at_limit=AtLimit.REFUSE)
    answer_id = _orphan(turn, ["Half an answer"])
    from chat.tasks import sweep_orphaned_answers

    assert sweep_orphaned_answers() == 1
    assert Message.objects.get(pk=answer_id).status == MessageStatus.INCOMPLETE
    assert sweep_orphaned_answers() == 0
    assert async_to_sync(event_log().running)() == []


# --- The endpoints --------------------------------------------------------------------------


def _streamed(user) -> tuple[str, list[dict]]:
    """One answer streamed to its end through the API: (message id, events)."""
    bot = make_bot(owner=user)
    token = auth_tokens_issue(user=user).access
    status, _headers, events = stream_chat(token, {"bot": str(bot.pk), "message": "Hello?"})
    assert status == 200
    return events[0]["message_id"], events


def _read(user, path: str, **headers) -> tuple[int, bytes]:
    """GET a stream through Django's ASGI handler, to its end."""
    token = auth_tokens_issue(user=user).access

    async def run():
        response = await AsyncClient().get(path, headers={"Authorization": f"Bearer {token}", **headers})
        if not response.streaming:
            return response.status_code, response.content
        return response.status_code, b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(run)()


@pytest.mark.django_db
def test_every_streamed_event_has_an_id_and_the_rest_can_be_read_again(user):
    answer_id, events = _streamed(user)
    status, raw = _read(user, f"/api/v1/chat/{answer_id}/events", **{"Last-Event-ID": "2"})
    assert status == 200
    ids = [int(line[4:]) for line in raw.decode().splitlines() if line.startswith("id: ")]
    assert ids == list(range(3, len(events) + 1))
    assert parse_sse(raw) == events[2:]
    # The query parameter does the same (for clients that cannot set headers).
    status, raw = _read(user, f"/api/v1/chat/{answer_id}/events?last_event_id={len(events) - 1}")
    assert parse_sse(raw) == events[-1:]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["abc", "-1", "1.5", str(2**40)])
def test_a_bad_last_event_id_is_a_validation_error(user, user_client, value):
    answer_id, _ = _streamed(user)
    response = user_client.get(f"/api/v1/chat/{answer_id}/events", HTTP_LAST_EVENT_ID=value)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    response = user_client.get(f"/api/v1/chat/{answer_id}/events", {"last_event_id": value})
    assert response.status_code == 400


@pytest.mark.django_db
def test_it_hides_another_users_answer_from_resume_and_stop(user, other_client):
    answer_id, _ = _streamed(user)
    assert other_client.get(f"/api/v1/chat/{answer_id}/events").status_code == 404
    response = other_client.post(f"/api/v1/chat/{answer_id}/stop")
    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.django_db
def test_unknown_ids_question_ids_and_no_credentials(user, user_client, api_client):
    answer_id, events = _streamed(user)
    question_id = events[0]["user_message_id"]
    for message_id in ("5b1f7a52-4f1e-4c59-9a57-2b0c6a8d9e10", question_id):
        assert user_client.get(f"/api/v1/chat/{message_id}/events").status_code == 404
        assert user_client.post(f"/api/v1/chat/{message_id}/stop").status_code == 404
    assert user_client.get("/api/v1/chat/not-a-uuid/events").status_code == 404
    assert user_client.post("/api/v1/chat/not-a-uuid/stop").status_code == 404
    assert api_client.get(f"/api/v1/chat/{answer_id}/events").status_code == 401
    assert api_client.post(f"/api/v1/chat/{answer_id}/stop").status_code == 401
    assert user_client.post(f"/api/v1/chat/{answer_id}/events").status_code == 405
    assert user_client.get(f"/api/v1/chat/{answer_id}/stop").status_code == 405


@pytest.mark.django_db
def test_stopping_an_ended_answer_is_409_and_an_expired_log_is_410(user, user_client):
    answer_id, _ = _streamed(user)
    response = user_client.post(f"/api/v1/chat/{answer_id}/stop")
    assert response.status_code == 409 and response.json()["error"]["code"] == "ANSWER_ENDED"
    _forget_logs()
    response = user_client.get(f"/api/v1/chat/{answer_id}/events")
    assert response.status_code == 410 and response.json()["error"]["code"] == "EVENTS_EXPIRED"
    assert user_client.post(f"/api/v1/chat/{answer_id}/stop").status_code == 409
    assert Message.objects.get(pk=answer_id).status == MessageStatus.COMPLETE


@pytest.mark.django_db(transaction=True)
def test_the_stop_endpoint_stops_a_running_answer(user, fake_openai, client_for):
    """The model call runs in this loop; the stop arrives like another replica's would,
    through the log, from a request handled in another thread."""
    turn = _turn(user, "stall-after-first")
    answer_id = str(turn.assistant_message_id)
    client = client_for(user)

    def stop_request():
        try:
            return client.post(f"/api/v1/chat/{answer_id}/stop")
        finally:
            connections.close_all()

    async def run():
        stream = answers.answer_stream(turn)
        await _until_first_delta(stream)
        stop = asyncio.get_running_loop().run_in_executor(None, stop_request)
        rest = [item async for item in stream]
        return rest, await asyncio.wait_for(stop, 10)

    rest, response = async_to_sync(run)()
    assert rest[-1][1]["stopped"] is True
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == answer_id and body["status"] == "stopped" and body["content"] == OPENAI_PIECES[0]
    assert body["tokens_used"] == rest[-1][1]["tokens_used"] > 0


@pytest.mark.redis
def test_the_redis_log_expires_from_its_first_or_its_last_event(settings):
    """Text between them is one XADD each, with no EXPIRE: the key's time to live is set
    by the first event, and by the last when the first write was lost."""
    import redis

    settings.CHAT_EVENT_LOG = "redis"
    event_log_reset()
    log = event_log()
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = f"{PREFIX}%s:events"

    async def write(answer_id: str, batches: list[list[tuple[int, dict]]]) -> list[int]:
        ttls = []
        for batch in batches:
            await log.append_many(answer_id, batch)
            ttls.append(client.ttl(key % answer_id))
        return ttls

    delta = {"type": "delta", "content": "x"}
    whole = async_to_sync(write)("whole", [[(1, {"type": "session_init"})], [(2, delta)], [(3, delta)]])
    assert all(0 < ttl <= settings.CHAT_EVENT_LOG_TTL_SECONDS for ttl in whole)
    # Its first write lost: no time to live until its end.
    lost_first = async_to_sync(write)("lost-first", [[(2, delta)], [(3, delta), (4, {"type": "done"})]])
    assert lost_first[0] == -1 and lost_first[1] > 0
    assert [int(entry_id.split(b"-")[1]) for entry_id, _ in client.xrange(key % "lost-first")] == [2, 3, 4]
    client.close()


def test_the_end_of_an_answer_marks_it_ended_gives_up_its_lease_and_leaves_the_running(settings, monkeypatch):
    """In one round trip on Redis, after the last event's."""
    from bytchat import redis_pipe

    log = event_log()
    state = {"status": "running", "user_id": "someone", "question": "¿Cuánto tarda?"}
    sent = []
    real_send = redis_pipe._Connection.send

    def counted(self, calls):
        sent.append([command[0] for call in calls for command in call.commands])
        real_send(self, calls)

    async def start_then_end():
        await log.start("ending", state, lease_seconds=30)
        started = await log.lease_alive("ending"), "ending" in await log.running()
        monkeypatch.setattr(redis_pipe._Connection, "send", counted)
        await log.end("ending", state)
        monkeypatch.undo()
        return started, await log.state_get("ending"), await log.lease_alive("ending"), await log.running()

    started, ended, alive, running = async_to_sync(start_then_end)()
    assert started == (True, True)
    assert ended == {**state, "status": "ended"} and not alive and "ending" not in running
    assert sent == ([["SET", "DEL", "SREM"]] if settings.CHAT_EVENT_LOG == "redis" else [])


@pytest.mark.redis
def test_the_redis_log_writes_the_events_of_one_moment_together(settings, monkeypatch):
    """Appends made while the event loop runs its ready tasks share one pipeline; an
    event that Redis refuses (an id out of turn) fails its own append only."""
    import redis

    from chat.services.event_log import RedisEventLog

    settings.CHAT_EVENT_LOG = "redis"
    event_log_reset()
    log = event_log()
    sent = []
    real_write = RedisEventLog._write

    def counted(self, writes):
        sent.append(len(writes))
        real_write(self, writes)

    monkeypatch.setattr(RedisEventLog, "_write", counted)
    delta = {"type": "delta", "content": "x"}

    async def appends():
        await log.append_many("taken", [(1, {"type": "session_init"}), (2, delta)])
        return await asyncio.gather(
            *(log.append_many(f"answer-{n}", [(1, {"type": "session_init"})]) for n in range(10)),
            log.append_many("taken", [(2, delta)]),  # already there: refused
            log.append_many("taken", [(3, delta)]),
            return_exceptions=True,
        )

    outcomes = async_to_sync(appends)()
    assert sent == [1, 12]
    assert outcomes[:10] == [None] * 10 and outcomes[11] is None
    assert isinstance(outcomes[10], redis.ResponseError)
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert [entry_id for entry_id, _ in client.xrange(f"{PREFIX}taken:events")] == [b"0-1", b"0-2", b"0-3"]
    assert all(client.xlen(f"{PREFIX}answer-{n}:events") == 1 for n in range(10))
    client.close()


def test_a_stop_wait_ends_when_its_answer_does_and_wakes_on_a_stop_or_its_time():
    """Each log's `stop_wait`: True at a stop, False after `wait` seconds, and False at
    once when `until` is done (the watcher of an ended answer returns, not cancelled)."""
    log = event_log()

    async def scenario():
        loop = asyncio.get_running_loop()
        ended = loop.create_future()
        started = loop.time()
        waiting = asyncio.ensure_future(log.stop_wait("ending", wait=30, until=ended))
        await asyncio.sleep(0.05)
        ended.set_result(None)
        at_end = await waiting, loop.time() - started
        timed_out = await log.stop_wait("quiet", wait=0.05)
        stopping = asyncio.ensure_future(log.stop_wait("stopped", wait=30, until=loop.create_future()))
        await asyncio.sleep(0.05)
        await log.stop_request("stopped")
        return at_end, timed_out, await stopping, await log.stop_wait("ending", wait=30, until=ended)

    (at_end, seconds), timed_out, stopped, after_end = async_to_sync(scenario)()
    assert at_end is False and seconds < 5
    assert timed_out is False and stopped is True and after_end is False


@pytest.mark.redis
def test_the_stop_subscription_outlives_a_first_waiter_cancelled_while_it_subscribes(settings):
    """The first `stop_wait` of a loop subscribes to the stop channel and waits until it
    has; cancelled meanwhile (its answer ended), the subscription still completes and
    wakes later waiters."""
    settings.CHAT_EVENT_LOG = "redis"
    event_log_reset()
    log = event_log()

    async def scenario():
        loop = asyncio.get_running_loop()
        first = asyncio.ensure_future(log.stop_wait("gone", wait=5))
        while loop not in log._stops._opening:  # subscribing, and not yet subscribed
            await asyncio.sleep(0)
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        await log._stops.subscribed()
        waiting = asyncio.ensure_future(log.stop_wait("later", wait=5))
        await asyncio.sleep(0.1)
        await log.stop_request("later")
        return await waiting

    assert async_to_sync(scenario)() is True
    event_log_reset()


@pytest.mark.redis
def test_what_is_not_an_answer_id_on_the_stop_channel_leaves_the_stops_working(settings):
    """The stop channel is read inside the subscription's protocol: a payload that is not
    UTF-8 must not raise there (that would drop the connection and every stop with it)."""
    import redis

    settings.CHAT_EVENT_LOG = "redis"
    event_log_reset()
    log = event_log()

    async def scenario():
        waiting = asyncio.ensure_future(log.stop_wait("after-garbage", wait=5))
        await log._stops.subscribed()
        connection = log._stops._opening[asyncio.get_running_loop()].result()
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
        await client.publish(STOP_CHANNEL, b"\xff\xfe not an answer id")
        await asyncio.sleep(0.1)
        await client.aclose()
        await log.stop_request("after-garbage")
        return await waiting, connection is log._stops._opening[asyncio.get_running_loop()].result()

    assert async_to_sync(scenario)() == (True, True)
    event_log_reset()


@pytest.mark.redis
def test_an_event_loop_closes_at_once_with_answers_waiting_for_a_stop(settings):
    """A loop that closes while answers wait on the stop channel (each `async_to_sync` runs
    one) shuts down at once, at any moment of their waits. Listening through redis-py's
    pubsub, whose task could swallow its cancellation, 3 of 35 such loops never closed."""
    settings.CHAT_EVENT_LOG = "redis"
    event_log_reset()
    log = event_log()
    never_closed = []
    for delay in [0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05] * 6:

        async def leave_answers_waiting(delay=delay):
            waits = [asyncio.ensure_future(log.stop_wait(f"waiting-{n}", wait=5)) for n in range(3)]
            await asyncio.sleep(delay)
            return waits

        runner = threading.Thread(target=asyncio.run, args=(leave_answers_waiting(),), daemon=True)
        runner.start()
        runner.join(3)
        if runner.is_alive():
            never_closed.append(delay)
    assert never_closed == []
    event_log_reset()


@pytest.mark.redis
def test_the_redis_log_waits_for_a_connection_when_all_are_busy(settings):
    """Past CHAT_EVENT_LOG_REDIS_CONNECTIONS a command waits for a free connection: with
    redis-py's own pool, 500 open streams had their events refused ("Too many connections")."""
    settings.CHAT_EVENT_LOG = "redis"
    settings.CHAT_EVENT_LOG_REDIS_CONNECTIONS = 20
    event_log_reset()
    log = event_log()

    async def readers():
        # Each holds a connection for 0.1 s, waiting for events that never come: more of
        # them than redis-py's default pool of 100 would take, and than this one's 20.
        return await asyncio.gather(*(log.read(f"quiet-{n}", after=0, wait=0.1) for n in range(120)))

    assert async_to_sync(readers)() == [[]] * 120
    event_log_reset()


@pytest.mark.django_db
def test_the_native_stream_sends_keep_alive_comments_while_the_model_is_quiet(user, fake_openai, monkeypatch):
    from bytchat.api.sse import KEEPALIVE_COMMENT
    from chat.api import views

    monkeypatch.setattr(views, "KEEPALIVE_SECONDS", 0.05)
    turn_bot = make_bot(
        owner=user, configs=[{"provider": "openai_compatible", "model_id": "hold-after-first"}]
    )
    token = auth_tokens_issue(user=user).access

    async def run():
        response = await AsyncClient().post(
            "/api/v1/chat",
            {"bot": str(turn_bot.pk), "message": "How long do refunds take?"},
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
        chunks = []
        async for chunk in response.streaming_content:
            chunks.append(chunk)
            if chunk == KEEPALIVE_COMMENT and b'"type":"delta"' in b"".join(chunks):
                fake_openai.release()  # the model was quiet after its first piece
        return chunks

    chunks = async_to_sync(run)()
    body = b"".join(chunks)
    first_delta = body.index(b'"type":"delta"')
    assert first_delta < body.index(KEEPALIVE_COMMENT, first_delta) < body.rindex(b'"type":"done"')
    assert [event["content"] for event in parse_sse(body) if event["type"] == "delta"] == OPENAI_PIECES

"""The stream through a real ASGI server: events reach the client as the model sends them."""

import asyncio
import contextlib
import gc
import json
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from accounts.services import auth_tokens_issue
from bots.tests.factories import make_bot
from chat.tests.fakes.llm_servers import OPENAI_PIECES, FakeServer, OpenAIHandler

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@contextlib.contextmanager
def asgi_server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        "bytchat.asgi:application", host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the ASGI server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_events_reach_the_client_while_the_model_is_still_sending(user, settings):
    settings.OPENAI_COMPATIBLE_API_KEY = "test-key"
    settings.PROVIDER_TIMEOUT_SECONDS = 10
    with FakeServer(OpenAIHandler) as fake, asgi_server() as base_url:
        settings.OPENAI_COMPATIBLE_BASE_URL = f"{fake.url}/v1"  # the operator's server
        bot = make_bot(
            owner=user, configs=[{"provider": "openai_compatible", "model_id": "hold-after-first"}]
        )
        token = auth_tokens_issue(user=user).access
        body = {"bot": str(bot.pk), "message": "How long do refunds take?"}
        events = []
        with (
            httpx.Client(timeout=10) as client,
            client.stream(
                "POST", f"{base_url}/api/v1/chat", json=body, headers={"Authorization": f"Bearer {token}"}
            ) as response,
        ):
            assert response.status_code == 200
            assert response.headers["x-accel-buffering"] == "no"
            lines = response.iter_lines()
            for line in lines:
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if events[-1]["type"] == "delta":
                        break
            # The model has sent one piece and is holding the rest: the client already has it.
            assert events[-1] == {"type": "delta", "content": OPENAI_PIECES[0]}
            fake.release()
            for line in lines:
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
    deltas = [event["content"] for event in events if event["type"] == "delta"]
    assert deltas == OPENAI_PIECES
    assert events[-1]["type"] == "done" and events[-1]["provider"] == "openai_compatible"


def _chat_scope(token: str, body: bytes) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/chat",
        "raw_path": b"/api/v1/chat",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def _ask(app, token: str, bot, *, leave_after_first_delta: bool = False) -> bytes:
    """One chat turn through the ASGI `app`; the client leaves after the first piece of
    text if told to, else once the response has ended (as uvicorn says then)."""
    body = json.dumps({"bot": str(bot.pk), "message": "How long do refunds take?"}).encode()
    gone = asyncio.Event()
    received: list[bytes] = []
    requested = False

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.body":
            received.append(message.get("body", b""))
            if leave_after_first_delta and b'"type":"delta"' in message.get("body", b""):
                gone.set()
            if not message.get("more_body", False):
                gone.set()

    await app(_chat_scope(token, body), receive, send)
    return b"".join(received)


async def _answers_ended(loop) -> None:
    from chat.services import answers

    detached = [task for task in answers._tasks if task.get_loop() is loop]
    _, unfinished = await asyncio.wait(detached, timeout=10) if detached else (set(), set())
    assert not unfinished, "the answer did not end"


def test_a_served_chat_turn_leaves_nothing_for_the_garbage_collector(user, settings):
    """Its request, view state, answer and their tasks are freed as the turn ends, not left
    in reference cycles for a full garbage collection: under load those came to about 280
    objects a turn, and collections that paused the process for up to 300 ms."""
    from django.http import HttpRequest
    from rest_framework.serializers import Serializer

    from bytchat.middleware import ASGIHandler
    from chat.services import answers

    app = ASGIHandler()
    token = auth_tokens_issue(user=user).access

    async def scenario():
        bot = await asyncio.to_thread(
            make_bot, owner=user, configs=[{"provider": "local", "model_id": "local"}]
        )
        loop = asyncio.get_running_loop()
        assert b'"type":"done"' in await _ask(app, token, bot)  # imports, caches and threads
        await _answers_ended(loop)
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(3):
                assert b'"type":"done"' in await _ask(app, token, bot)
                await _answers_ended(loop)
            gc.collect()
            left = list(gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        kinds = (HttpRequest, Serializer, answers._Running, asyncio.Task, BaseException)
        return sorted({type(each).__name__ for each in left if isinstance(each, kinds)})

    assert asyncio.run(scenario()) == []


def test_an_answer_outlives_its_request_in_a_reused_thread_of_its_own(user, settings):
    """The ASGI application lends each request a reused thread (`bytchat.threads`); an
    answer whose client went away goes on in one of its own, and is stored. A second
    request starts no thread."""
    from bytchat import threads
    from bytchat.middleware import ASGIHandler
    from chat.models import Message, MessageRole, MessageStatus
    from chat.services import answers

    settings.OPENAI_COMPATIBLE_API_KEY = "test-key"
    settings.PROVIDER_TIMEOUT_SECONDS = 10
    app = ASGIHandler()
    token = auth_tokens_issue(user=user).access

    async def ask(bot, *, leave_after_first_delta: bool) -> bytes:
        return await _ask(app, token, bot, leave_after_first_delta=leave_after_first_delta)

    def answer_of(bot):
        return Message.objects.filter(conversation__bot=bot, role=MessageRole.ASSISTANT).first()

    async def scenario(fake):
        slow = await asyncio.to_thread(
            make_bot, owner=user, configs=[{"provider": "openai_compatible", "model_id": "hold-after-first"}]
        )
        quick = await asyncio.to_thread(
            make_bot, owner=user, configs=[{"provider": "local", "model_id": "local"}]
        )
        # The client leaves after the first piece; the model then sends the rest.
        stream = await ask(slow, leave_after_first_delta=True)
        assert b'"type":"done"' not in stream
        fake.release()
        # Wait for the detached answer itself rather than poll the database while it
        # writes: SQLite's shared in-memory test database refuses to read a table that
        # another connection is writing ("database table is locked") instead of waiting.
        loop = asyncio.get_running_loop()
        assert [task for task in answers._tasks if task.get_loop() is loop], "the answer did not go on"
        await _answers_ended(loop)
        answer = await asyncio.to_thread(answer_of, slow)
        assert answer is not None and answer.content == "".join(OPENAI_PIECES)
        assert answer.status == MessageStatus.COMPLETE
        # Threads are reused: a request, then a whole answer, start none.
        await ask(quick, leave_after_first_delta=False)
        started = threads.pool.started
        stream = await ask(quick, leave_after_first_delta=False)
        assert b'"type":"done"' in stream
        assert threads.pool.started == started

    with FakeServer(OpenAIHandler) as fake:
        settings.OPENAI_COMPATIBLE_BASE_URL = f"{fake.url}/v1"
        asyncio.run(scenario(fake))

"""The stream through a real ASGI server: events reach the client as the model sends them."""

import contextlib
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

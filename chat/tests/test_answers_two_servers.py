"""Stop and resume across two web processes (two uvicorn servers on loopback) sharing one
PostgreSQL and one Redis, and an answer whose server dies mid-answer."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from accounts.services import auth_tokens_issue
from bots.tests.factories import make_bot
from chat.models import Message, MessageStatus, Run, RunStatus
from chat.tests.fakes.llm_servers import OPENAI_PIECES, FakeServer, OpenAIHandler

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    """The test database, which the servers must share with this test."""
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def web_server(model_url: str, log: Path):
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "true",
        "CHAT_ANSWER_HEARTBEAT_MS": "200",
        "OPENAI_COMPATIBLE_BASE_URL": model_url,
        "OPENAI_COMPATIBLE_API_KEY": "test-key",
        "PROVIDER_TIMEOUT_SECONDS": "20",
    }
    command = [sys.executable, "-m", "uvicorn", "bytchat.asgi:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--lifespan", "off", "--log-level", "warning"]
    with log.open("ab") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/healthz", timeout=2).status_code < 500:
                    break
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _events(lines):
    """(id, event) pairs from SSE lines."""
    event_id = None
    for line in lines:
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: "):
            yield event_id, json.loads(line[6:])


def _until_first_delta(events) -> list:
    seen = []
    for item in events:
        seen.append(item)
        if item[1]["type"] == "delta":
            return seen
    raise AssertionError(seen)


def test_stop_and_resume_on_another_server_and_after_the_first_one_died(user, tmp_path):
    stalling = make_bot(
        owner=user, configs=[{"provider": "openai_compatible", "model_id": "stall-after-first"}]
    )
    holding = make_bot(
        owner=user, configs=[{"provider": "openai_compatible", "model_id": "hold-after-first"}]
    )
    headers = {"Authorization": f"Bearer {auth_tokens_issue(user=user).access}"}
    log = tmp_path / "servers.log"

    with (
        FakeServer(OpenAIHandler) as fake,
        web_server(f"{fake.url}/v1", log) as (first, first_process),
        web_server(f"{fake.url}/v1", log) as (second, _),
        httpx.Client(timeout=20, headers=headers) as client,
    ):
        # 1. An answer running on the first server is stopped through the second.
        body = {"bot": str(stalling.pk), "message": "How long do refunds take?"}
        with client.stream("POST", f"{first}/api/v1/chat", json=body) as response:
            events = _events(response.iter_lines())
            seen = _until_first_delta(events)
            answer_id = seen[0][1]["message_id"]
            stopped = client.post(f"{second}/api/v1/chat/{answer_id}/stop")
            assert stopped.status_code == 200, stopped.text
            assert stopped.json()["status"] == "stopped"
            assert stopped.json()["content"] == OPENAI_PIECES[0]
            rest = list(events)
        assert rest[-1][1]["type"] == "done" and rest[-1][1]["stopped"] is True
        assert [event_id for event_id, _ in seen + rest] == list(range(1, len(seen) + len(rest) + 1))
        # Every listener hears it, on either server, and a second stop is a conflict.
        with client.stream("GET", f"{second}/api/v1/chat/{answer_id}/events") as response:
            assert list(_events(response.iter_lines())) == seen + rest
        assert client.post(f"{first}/api/v1/chat/{answer_id}/stop").status_code == 409
        message = Message.objects.get(pk=answer_id)
        assert message.status == MessageStatus.STOPPED and message.tokens_used > 0
        assert Run.objects.get(message=message).status == RunStatus.STOPPED

        # 2. The first server dies mid-answer: a client resuming on the second gets the end,
        # and the answer is stored incomplete with what was streamed.
        with client.stream("POST", f"{first}/api/v1/chat", json=body) as response:
            seen = _until_first_delta(_events(response.iter_lines()))
            answer_id = seen[0][1]["message_id"]
            first_process.kill()
            first_process.wait()
        resume_headers = {"Last-Event-ID": str(seen[-1][0])}
        with client.stream(
            "GET", f"{second}/api/v1/chat/{answer_id}/events", headers=resume_headers
        ) as response:
            assert response.status_code == 200
            rest = list(_events(response.iter_lines()))
        assert rest == [(seen[-1][0] + 1, rest[0][1])]
        assert rest[0][1]["type"] == "done" and rest[0][1]["incomplete"] is True
        message = Message.objects.get(pk=answer_id)
        assert message.status == MessageStatus.INCOMPLETE and message.content == OPENAI_PIECES[0]
        assert Run.objects.get(message=message).status == RunStatus.INCOMPLETE

        # 3. A dropped connection: the model call goes on, and the client resumes on the
        # other server, which streams the rest live.
        with web_server(f"{fake.url}/v1", log) as (restarted, _):
            body = {"bot": str(holding.pk), "message": "How long do refunds take?"}
            with client.stream("POST", f"{restarted}/api/v1/chat", json=body) as response:
                seen = _until_first_delta(_events(response.iter_lines()))
            answer_id = seen[0][1]["message_id"]
            resume_headers = {"Last-Event-ID": str(seen[-1][0])}
            with client.stream(
                "GET", f"{second}/api/v1/chat/{answer_id}/events", headers=resume_headers
            ) as response:
                fake.release()
                rest = list(_events(response.iter_lines()))
            deltas = [event["content"] for _, event in seen + rest if event["type"] == "delta"]
            assert deltas == OPENAI_PIECES
            assert rest[-1][1]["type"] == "done" and "incomplete" not in rest[-1][1]
            deadline = time.monotonic() + 10
            while not Message.objects.filter(pk=answer_id).exists():
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert Message.objects.get(pk=answer_id).status == MessageStatus.COMPLETE

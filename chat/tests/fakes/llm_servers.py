"""Fake OpenAI and Gemini servers for the SDK tests: real HTTP on 127.0.0.1, real SSE.

The model id picks the behaviour, so one server serves every case:

    ok                 text in three chunks, then the end of the answer and usage
    error-500/429/400  that HTTP status with the provider's error body
    stall              says nothing until the test ends (the client must time out)
    stall-after-first  one chunk, then nothing
    hold-after-first   one chunk, then the rest once the test calls `release()`
    malformed          a chunk that is not JSON
    cut                two chunks, then the connection drops mid-body (chunked encoding)
    truncated          two chunks, then a clean end of body without the end of the answer
    drop               closes the connection without a response
    drop-first…        `drop` for its first request on this server, then `ok` (each model id
                       starting so drops once: `drop-first-openai`)
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI_PIECES = ["Refunds take ", "30 days ", "[1]."]
OPENAI_USAGE = {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
GEMINI_PIECES = ["Las devoluciones ", "tardan 30 días ", "[1]."]
GEMINI_USAGE = {"promptTokenCount": 31, "candidatesTokenCount": 9, "totalTokenCount": 40}

# Stalled handlers give up after this long even if the test forgets to release them.
STALL_LIMIT_SECONDS = 10


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # -- plumbing ------------------------------------------------------------------------
    def _read_body(self) -> Any:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw) if raw else None
        self.server.requests.append(
            RecordedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        return body

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self, *, chunked: bool = True) -> None:
        self._chunked = chunked
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            # No length and no chunking: the body ends when the connection closes.
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def _write(self, text: str) -> None:
        data = text.encode()
        if self._chunked:
            data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        self.wfile.write(data)
        self.wfile.flush()

    def _event(self, payload: Any) -> None:
        self._write(f"data: {json.dumps(payload)}\n\n")

    def _end_stream(self) -> None:
        if self._chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _drop_connection(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _stall(self) -> None:
        self.close_connection = True
        self.server.release.wait(STALL_LIMIT_SECONDS)

    # -- behaviour -----------------------------------------------------------------------
    def do_POST(self) -> None:
        body = self._read_body()
        scenario = self.scenario(body)
        # A client that gave up (a timeout test) leaves nothing to say.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.respond(scenario)

    def respond(self, scenario: str) -> None:
        if scenario == "drop" or scenario.startswith("drop-first"):
            with self.server.lock:
                first = scenario not in self.server.dropped
                self.server.dropped.add(scenario)
            if scenario == "drop" or first:
                self._drop_connection()
                return
        if scenario.startswith("error-"):
            status = int(scenario.removeprefix("error-"))
            self._send_json(status, self.error_body(status))
            return
        if scenario == "stall":
            self._stall()
            return
        self._start_stream(chunked=scenario != "truncated")
        if scenario == "malformed":
            self._write('data: {"choices": [{"delta": \n\n')
            self._end_stream()
            return
        pieces = self.pieces()
        for number, piece in enumerate(pieces):
            self._event(self.text_event(piece))
            if scenario == "stall-after-first":
                self._stall()
                return
            if scenario == "hold-after-first" and number == 0:
                self.server.release.wait(STALL_LIMIT_SECONDS)
            if scenario in ("cut", "truncated") and number == 1:
                if scenario == "cut":
                    self._drop_connection()
                return
        self.finish_events()
        self._end_stream()

    # -- per provider --------------------------------------------------------------------
    def scenario(self, body: Any) -> str:
        raise NotImplementedError

    def pieces(self) -> list[str]:
        raise NotImplementedError

    def text_event(self, text: str) -> Any:
        raise NotImplementedError

    def finish_events(self) -> None:
        raise NotImplementedError

    def error_body(self, status: int) -> Any:
        raise NotImplementedError


class OpenAIHandler(_Handler):
    """`POST {base_url}/chat/completions` with `stream: true`, as api.openai.com streams it."""

    def scenario(self, body: Any) -> str:
        return body["model"]

    def pieces(self) -> list[str]:
        return OPENAI_PIECES

    def _chunk(self, choices: list[Any], usage: Any = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "fake",
            "choices": choices,
            "usage": usage,
        }

    def text_event(self, text: str) -> Any:
        return self._chunk([{"index": 0, "delta": {"content": text}, "finish_reason": None}])

    def finish_events(self) -> None:
        self._event(self._chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        self._event(self._chunk([], usage=OPENAI_USAGE))
        self._write("data: [DONE]\n\n")

    def error_body(self, status: int) -> Any:
        return {"error": {"message": f"fake failure {status}", "type": "server_error", "code": None}}


class GeminiHandler(_Handler):
    """`POST {base_url}/{version}/models/{model}:streamGenerateContent?alt=sse`."""

    path_pattern = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^/:]+):streamGenerateContent\?alt=sse$")

    def scenario(self, body: Any) -> str:
        match = self.path_pattern.match(self.path)
        return match["model"] if match else "error-404"

    def pieces(self) -> list[str]:
        return GEMINI_PIECES

    def text_event(self, text: str) -> Any:
        return {
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}],
            "modelVersion": "fake",
        }

    def finish_events(self) -> None:
        self._event(
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": ""}]},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": GEMINI_USAGE,
                "modelVersion": "fake",
            }
        )

    def error_body(self, status: int) -> Any:
        names = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}
        return {
            "error": {
                "code": status,
                "message": f"fake failure {status}",
                "status": names.get(status, "UNKNOWN"),
            }
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[RecordedRequest]
    release: threading.Event
    dropped: set[str]  # the `drop-first` scenarios that have dropped once
    lock: threading.Lock

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or drop a kept-alive connection are part of the tests.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeServer:
    """Serves `handler` on 127.0.0.1 (a free port) from a background thread.

    `release` frees stalled handlers; it is set when the server stops.
    """

    def __init__(self, handler: type[_Handler]) -> None:
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.requests = []
        self._server.release = threading.Event()
        self._server.dropped = set()
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._server.requests

    def release(self) -> None:
        """Let held and stalled handlers go on."""
        self._server.release.set()

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

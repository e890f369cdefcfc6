"""A fake embeddings server on 127.0.0.1 that answers both the OpenAI embeddings API
(`POST /v1/embeddings`) and Gemini's (`POST /v1beta/models/{model}:batchEmbedContents`),
with the fake embedder's vectors, so the real SDKs can be tested against it. A model
named `error-500` gets an HTTP 500."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bots.tests.embedders import FakeEmbedder


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
        self.server.requests.append((self.path, body))
        if self.path.endswith("/embeddings"):
            self._openai(body)
        elif ":batchEmbedContents" in self.path:
            self._gemini(body)
        else:
            self._send(404, {"error": {"message": "not found"}})

    def _vectors(self, texts: list[str], dimensions: int | None) -> list[list[float]]:
        embedder = FakeEmbedder(dimensions=dimensions or 32)
        # Not normalised on purpose: the client must normalise.
        return [[3.0 * value for value in row] for row in embedder.embed_passages(texts).tolist()]

    def _openai(self, body: dict) -> None:
        if body["model"] == "error-500":
            self._send(500, {"error": {"message": "boom", "type": "server_error"}})
            return
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = self._vectors(texts, body.get("dimensions"))
        self._send(
            200,
            {
                "object": "list",
                "model": body["model"],
                # Out of order: the client must sort by index.
                "data": [
                    {"object": "embedding", "index": index, "embedding": vector}
                    for index, vector in reversed(list(enumerate(vectors)))
                ],
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            },
        )

    def _gemini(self, body: dict) -> None:
        if "error-500" in self.path:
            self._send(500, {"error": {"code": 500, "message": "boom", "status": "INTERNAL"}})
            return
        requests = body["requests"]
        texts = [" ".join(part["text"] for part in item["content"]["parts"]) for item in requests]
        vectors = self._vectors(texts, requests[0].get("outputDimensionality"))
        self._send(200, {"embeddings": [{"values": vector} for vector in vectors]})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list


class FakeEmbeddingServer:
    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.requests = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list:
        return self._server.requests

    def __enter__(self) -> FakeEmbeddingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

"""Baseline: the minimal relay. A bare ASGI app and one reused `httpx.AsyncClient` that
forwards a chat to the model server and relays its text as Bytchat's `delta` events.
Nothing else: no framework, no database, no authentication. What a proxy cannot do with
less; the chat benchmark compares Bytchat's CPU per answer with it.

    BENCH_UPSTREAM=http://127.0.0.1:9100/v1 uvicorn bench.baselines.relay:app
"""

from __future__ import annotations

import json
import os

import httpx

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:9100/v1")
BODY = {"model": "mock-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
client: httpx.AsyncClient | None = None


async def app(scope, receive, send):
    global client
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    if client is None:
        client = httpx.AsyncClient(base_url=UPSTREAM, timeout=60)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
    )
    async with client.stream("POST", "/chat/completions", json=BODY) as upstream:
        async for line in upstream.aiter_lines():
            if not line.startswith("data: {"):
                continue
            choices = json.loads(line[6:]).get("choices") or [{}]
            text = choices[0].get("delta", {}).get("content")
            if text:
                event = json.dumps({"type": "delta", "content": text}, separators=(",", ":"))
                await send(
                    {"type": "http.response.body", "body": f"data: {event}\n\n".encode(), "more_body": True}
                )
    await send({"type": "http.response.body", "body": b'data: {"type":"done"}\n\n', "more_body": False})

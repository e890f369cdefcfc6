"""A mock OpenAI-compatible chat-completions server for benchmarks.

    python bench/mock_llm.py --port 9100 --ttft-ms 50 --token-delay-ms 10 --tokens 40

It streams `--tokens` deltas after `--ttft-ms`, one every `--token-delay-ms`, then a
final chunk with usage, exactly as the OpenAI streaming API does. Pure ASGI on uvicorn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time


def make_app(*, ttft_ms: float, token_delay_ms: float, tokens: int):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body or b"{}")
        model = request.get("model", "mock-model")
        created = int(time.time())
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
            }
        )

        def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
            payload = {
                "id": "chatcmpl-mock",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if usage:
                payload["usage"] = usage
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        await asyncio.sleep(ttft_ms / 1000)
        for number in range(tokens):
            if number:
                await asyncio.sleep(token_delay_ms / 1000)
            text = f"token{number} "
            await send({"type": "http.response.body", "body": chunk({"content": text}), "more_body": True})
        await send({"type": "http.response.body", "body": chunk({}, finish="stop"), "more_body": True})
        usage = {"prompt_tokens": 50, "completion_tokens": tokens, "total_tokens": 50 + tokens}
        await send({"type": "http.response.body", "body": chunk({}, usage=usage), "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--ttft-ms", type=float, default=50)
    parser.add_argument("--token-delay-ms", type=float, default=10)
    parser.add_argument("--tokens", type=int, default=40)
    args = parser.parse_args()
    app = make_app(ttft_ms=args.ttft_ms, token_delay_ms=args.token_delay_ms, tokens=args.tokens)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", backlog=2048)


if __name__ == "__main__":
    main()

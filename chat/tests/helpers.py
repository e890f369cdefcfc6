"""Builders and SSE reading for the chat tests."""

from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from django.test import AsyncClient

from bots.tests.factories import make_indexed_document


def add_knowledge(bot, name: str, text: str):
    return make_indexed_document(bot=bot, text=text, name=name)


def parse_sse(raw: bytes) -> list[dict]:
    events = []
    for block in raw.decode().split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
    return events


def stream_chat(
    token: str, body: dict, *, stop_after: int | None = None, path: str = "/api/v1/chat"
) -> tuple[int, dict, list[dict]]:
    """POST /api/v1/chat (or another streaming `path`) through Django's ASGI handler and
    read the stream event by event. With `stop_after`, the client goes away after that
    many events."""

    async def run():
        client = AsyncClient()
        response = await client.post(
            path,
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
        headers = {key.lower(): value for key, value in response.items()}
        if not response.streaming:
            return response.status_code, headers, [json.loads(response.content)]
        events = []
        iterator = aiter(response.streaming_content)
        try:
            async for chunk in iterator:
                events.extend(parse_sse(chunk))
                if stop_after is not None and len(events) >= stop_after:
                    break
        finally:
            await iterator.aclose()
        return response.status_code, headers, events

    return async_to_sync(run)()

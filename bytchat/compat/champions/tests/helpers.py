"""Reaching the Champions mount in tests: its prefix, JSON types, the SSE stream."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient

from chat.tests.helpers import parse_sse

BASE = "/" + settings.COMPAT_CHAMPIONS_PREFIX

LOAN_GUIDE = (
    "DSCR program. The minimum DSCR is 1.0 for purchases and 1.1 for cash-out refinances. "
    "Reserves of six months are required.\n\n"
    "Full Doc program. Two years of tax returns are required. Alt Doc accepts bank statements."
)


def url(path: str) -> str:
    return BASE + path


def is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except (ValueError, TypeError):
        return False
    return isinstance(value, str)


def is_timestamp(value) -> bool:
    if not isinstance(value, str):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def assert_error(response, status: int, code: str) -> None:
    """The documented error body: {"detail": {"error": "...", "code": "..."}}."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail"}
    assert set(body["detail"]) == {"error", "code"}
    assert body["detail"]["code"] == code
    assert isinstance(body["detail"]["error"], str) and body["detail"]["error"]


def stream_chat(token: str | None, body: dict) -> tuple[int, dict, list[dict] | dict]:
    """POST /chat through Django's ASGI handler; the events, or the JSON body."""

    async def run():
        client = AsyncClient()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await client.post(url("chat"), body, content_type="application/json", headers=headers)
        response_headers = {key.lower(): value for key, value in response.items()}
        if not response.streaming:
            return response.status_code, response_headers, json.loads(response.content)
        events = []
        async for chunk in response.streaming_content:
            events.extend(parse_sse(chunk))
        return response.status_code, response_headers, events

    return async_to_sync(run)()

"""Clients of the Bytchat v1 mount, wherever COMPAT_BYTCHAT_V1_PREFIX puts it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient

from accounts.tests.factories import PASSWORD

V1 = "/" + settings.COMPAT_BYTCHAT_V1_PREFIX


def v1(path: str) -> str:
    """A v1 path (as the documents write it, without the leading slash) under the mount."""
    return V1 + path


@dataclass
class ChatAnswer:
    status: int
    headers: dict[str, str]
    text: str

    def json(self):
        return json.loads(self.text)


def v1_chat(token: str | None, bot_id, *, query: str | None = None, body: dict | None = None) -> ChatAnswer:
    """POST /chat/{bot_id} through Django's ASGI handler, reading the whole stream: the
    query as `?query=` (v1.2.1) and/or a JSON body (v1.4.0)."""

    async def run() -> ChatAnswer:
        client = AsyncClient()
        path = v1(f"chat/{bot_id}")
        if query is not None:
            path += "?" + urlencode({"query": query})
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if body is None:
            response = await client.generic("POST", path, b"", headers=headers)
        else:
            response = await client.post(path, body, content_type="application/json", headers=headers)
        if response.streaming:
            content = b"".join([chunk async for chunk in response.streaming_content])
        else:
            content = response.content
        headers = {key.lower(): value for key, value in response.items()}
        return ChatAnswer(response.status_code, headers, content.decode())

    return async_to_sync(run)()


def log_in(client, email: str, password: str = PASSWORD):
    """`POST /token` exactly as an OAuth2 client sends it: a urlencoded form."""
    return client.post(
        v1("token"),
        urlencode({"username": email, "password": password}),
        content_type="application/x-www-form-urlencoded",
    )


def token_for(user) -> str:
    from accounts.services import auth_tokens_issue

    return auth_tokens_issue(user=user).access

"""What the MagicAI tests share: the mount's URLs and JSON shape checks."""

from __future__ import annotations

from typing import Any

from django.conf import settings

PLAN_SHAPE = {"id": str, "name": str, "maxConversationsPerAgent": int, "maxMessagesPerConversation": int}
ERROR_SHAPE = {"message": str}


def url(path: str) -> str:
    """A MagicAI path as its document writes it (`/auth/login`), under the mount."""
    return "/" + settings.COMPAT_MAGICAI_PREFIX + path.lstrip("/")


def assert_shape(body: Any, shape: dict[str, Any]) -> None:
    """Every documented key is there with its JSON type. A type may be a tuple (`(int,
    type(None))`), or a nested shape for an object."""
    assert isinstance(body, dict), body
    for key, expected in shape.items():
        assert key in body, f"{key!r} missing from {body}"
        value = body[key]
        if isinstance(expected, dict):
            assert_shape(value, expected)
        else:
            # JSON has no separate bool and int; Python's bool is an int, so rule it out.
            if expected is int or (isinstance(expected, tuple) and int in expected):
                assert not isinstance(value, bool), f"{key!r} is a boolean: {body}"
            assert isinstance(value, expected), f"{key!r} is {type(value).__name__}, not {expected}: {body}"


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert_shape(body, ERROR_SHAPE)
    assert body["message"]
    return body

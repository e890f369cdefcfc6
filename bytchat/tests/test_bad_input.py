"""Bad input never answers 5xx: every URL pattern of the project, reached with hostile
bodies, methods and query strings, answers a 4xx in its API's own error format.

The routes are read from the URL resolver, so a new endpoint is covered without being
listed here; the ids in its path are filled with real objects of the signed-in user.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.services import auth_tokens_issue
from accounts.tests.factories import make_user
from bots.tests.factories import make_bot, make_category, make_indexed_document
from bytchat.compat.escombot.auth import COOKIE_NAME, session_cookie_set
from chat.models import Conversation, Message
from chat.services.api_keys import api_key_create

# Django's admin and the static files are Django's own pages, not the project's.
SKIPPED = ("admin/", "static/", "^static/")

CHAMPIONS = "/" + settings.COMPAT_CHAMPIONS_PREFIX
MAGICAI = "/" + settings.COMPAT_MAGICAI_PREFIX
ESCOMBOT = "/" + settings.COMPAT_ESCOMBOT_PREFIX
V1 = "/" + settings.COMPAT_BYTCHAT_V1_PREFIX


DEEP_ARRAY = b"[" * 1000
DEEP_OBJECT = b'{"a":' * 1000
DEEP_BALANCED = b"[" * 900 + b"]" * 900


def _walk(patterns, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def routes() -> list[str]:
    """Every route of the project (outside Django's admin), as written in the URLconf."""
    return [route for route, _ in _walk(get_resolver().url_patterns) if not route.startswith(SKIPPED)]


def _fill(route: str, ids: dict[str, str]) -> str:
    """A concrete path for a route: `<uuid:bot_id>` and `(?P<bot_id>[^/]+)` become the id."""
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda match: ids[match.group(1)], route)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda match: ids[match.group(1)], path)
    path = path.replace("^", "").replace("/?$", "").replace("$", "")
    return "/" + path


class World:
    """A platform agent, and one admin with a bot, a document, a conversation with a message: every id a route
    can take, and a client signed in on every surface at once."""

    def __init__(self) -> None:
        self.user = make_user(email="fuzz@example.com", role="admin")
        self.category = make_category()
        self.bot = make_bot(owner=self.user, category=self.category)
        # The platform agent that answers ESCOMBOT and Champions clients.
        make_bot(owner=None, is_public=True, name_en="Platform agent")
        self.document = make_indexed_document(bot=self.bot, text="Refunds are paid within 30 days.")
        self.conversation = Conversation.objects.create(user=self.user, bot=self.bot, title="Refunds")
        self.message = Message.objects.create(conversation=self.conversation, role="user", content="Refunds?")
        config = self.bot.model_configs.get()
        self.ids = {
            "user_id": str(self.user.pk),
            "category_id": str(self.category.pk),
            "bot_id": str(self.bot.pk),
            "agent_id": str(self.bot.pk),
            "config_id": str(config.pk),
            "document_id": str(self.document.pk),
            "conversation_id": str(self.conversation.pk),
            "chat_id": str(self.conversation.pk),
            "message_id": str(self.message.pk),
            "uid": "x",
            "token": "x",
            "key_id": str(api_key_create(user=self.user, name="fuzz").key.pk),
            "model_id": str(self.bot.pk),
        }

    def client(self) -> Client:
        """Signed in with a Bearer token, the panel's session and ESCOMBOT's cookie."""
        token = auth_tokens_issue(user=self.user).access
        client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token}")
        client.force_login(self.user)

        class _Request:
            def is_secure(self) -> bool:
                return False

        from django.http import HttpResponse

        carrier = HttpResponse()
        session_cookie_set(carrier, request=_Request(), user=self.user)
        client.cookies[COOKIE_NAME] = carrier.cookies[COOKIE_NAME].value
        return client

    def paths(self) -> list[str]:
        return [_fill(route, self.ids) for route in routes()]


@pytest.fixture
def world(db, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return World()


def _body(response) -> bytes:
    """The body of an error answer; a stream (an answer being written) is not read."""
    if response.streaming:
        response.close()
        return b"<stream>"
    return response.content


def _failures(responses: list[tuple[str, str, int, bytes]]) -> list[tuple[str, str, int, bytes]]:
    return [(method, path, status, body[:200]) for method, path, status, body in responses if status >= 500]


def test_every_route_is_covered(world):
    paths = world.paths()
    assert "/api/v1/me/onboarding/complete" in paths
    assert f"/bots/{world.bot.pk}" in paths
    assert "/" + settings.COMPAT_CHAMPIONS_PREFIX + "admin/runs" in paths


def test_options_never_fails_on_any_route(world):
    client = world.client()
    anonymous = Client(raise_request_exception=False)
    responses = []
    for path in world.paths():
        for who in (client, anonymous):
            response = who.options(path)
            responses.append(("OPTIONS", path, response.status_code, response.content))
    failures = _failures(responses)
    assert failures == [], "\n".join(map(str, failures))


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/me/onboarding/complete",
        "/api/v1/bots/{bot_id}/documents/{document_id}/reindex",
        "/app/api/bots/{bot_id}/documents/{document_id}/reindex",
        V1 + "bots/{bot_id}",
    ],
)
def test_options_describes_a_view_without_a_serializer_or_queryset(world, path):
    response = world.client().options(path.format(**world.ids))
    assert response.status_code == 200, response.content[:300]
    assert "POST" in response.json()["allowed_methods"] or "PUT" in response.json()["allowed_methods"]


@pytest.mark.parametrize("path", ["/docs/", "/redoc/"])
def test_the_documentation_pages_refuse_options(world, path):
    assert Client().options(path).status_code == 405


# Every field name a body of the project takes, each holding a number no column stores.
FIELD_NAMES = [
    "email",
    "password",
    "full_name",
    "name",
    "title",
    "content",
    "message",
    "query",
    "rating",
    "comment",
    "priority",
    "temperature",
    "max_output_tokens",
    "display_order",
    "displayOrder",
    "k",
    "limit",
    "offset",
    "days",
    "role",
    "status",
    "plan",
    "language",
    "bot",
    "bot_id",
    "conversation_id",
    "message_id",
    "chatId",
    "archived",
    "confirm_delete",
    "confirmDelete",
    "provider",
    "model_id",
    "task_type",
    "base_url",
    "name_es",
    "name_en",
    "description_es",
    "description_en",
    "system_prompt",
    "is_public",
    "category",
    "categoryId",
    "subscriptionTypeId",
    "stream",
    "metadata_filter",
    "refresh",
    "token",
    "uid",
    "new_password",
]
HUGE_INTEGERS = ("{" + ", ".join(f'"{name}": {"9" * 30}' for name in FIELD_NAMES) + "}").encode()
HUGE_NEGATIVES = ("{" + ", ".join(f'"{name}": -{"9" * 30}' for name in FIELD_NAMES) + "}").encode()
HUGE_FLOATS = ("{" + ", ".join(f'"{name}": 1.7e308' for name in FIELD_NAMES) + "}").encode()


@pytest.mark.parametrize(
    "body",
    [DEEP_ARRAY, DEEP_OBJECT, DEEP_BALANCED, HUGE_INTEGERS, HUGE_NEGATIVES, HUGE_FLOATS],
    ids=["array", "object", "balanced", "huge-integers", "huge-negatives", "huge-floats"],
)
def test_hostile_json_never_fails_on_any_route(world, body):
    client = world.client()
    anonymous = Client(raise_request_exception=False)
    responses = []
    for path in world.paths():
        for method in ("post", "put", "patch"):
            for who in (client, anonymous):
                response = getattr(who, method)(path, body, content_type="application/json")
                responses.append((method, path, response.status_code, _body(response)))
    failures = _failures(responses)
    assert failures == [], "\n".join(map(str, failures))


# --- JSON bodies: each surface refuses a hostile one in its own error format ------------


def native_error(body: dict) -> str:
    assert set(body) == {"error"} and body["error"]["code"] == "MALFORMED_REQUEST", body
    return body["error"]["message"]


def champions_error(body: dict) -> str:
    assert set(body) == {"detail"} and body["detail"]["code"] == "MALFORMED_REQUEST", body
    return body["detail"]["error"]


def magicai_error(body: dict) -> str:
    assert "message" in body and set(body) <= {"message", "errors"}, body
    return body["message"]


def escombot_error(body: dict) -> str:
    assert body == {"error": "JSON inválido"}, body
    return body["error"]


def v1_error(body: dict) -> str:
    assert set(body) == {"detail"} and isinstance(body["detail"], str), body
    return body["detail"]


# (path, signed in, how the surface writes the error); chat endpoints are the async views.
JSON_ENDPOINTS = [
    ("/api/v1/auth/token", False, native_error),
    ("/api/v1/bots", True, native_error),
    ("/api/v1/chat", True, native_error),
    ("/app/api/conversations", True, native_error),
    ("/app/api/chat", True, native_error),
    (V1 + "users/", False, v1_error),
    (V1 + "bots/", True, v1_error),
    (V1 + "chat/{bot_id}", True, v1_error),
    (ESCOMBOT + "login", False, escombot_error),
    (ESCOMBOT + "messages", True, escombot_error),
    (MAGICAI + "auth/login", False, magicai_error),
    (MAGICAI + "messages/{conversation_id}", True, magicai_error),
    (CHAMPIONS + "auth/login", False, champions_error),
    (CHAMPIONS + "chat", True, champions_error),
]

HOSTILE_BODIES = {
    "deep-array": DEEP_ARRAY,
    "deep-object": DEEP_OBJECT,
    "deep-balanced": DEEP_BALANCED,
    "deeper-than-allowed": b'{"a":' * 33 + b"1" + b"}" * 33,
    "huge-float": b'{"email": 1e999999, "query": 1e999999}',
    "huge-integer": b'{"email": ' + b"9" * 10_000 + b"}",
    "nan": b'{"email": NaN}',
    "infinity": b'{"email": -Infinity}',
    "bad-utf8": b'{"email": "\xff\xfe"}',
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
@pytest.mark.parametrize("path,signed_in,read_error", JSON_ENDPOINTS, ids=[e[0] for e in JSON_ENDPOINTS])
def test_a_hostile_json_body_is_a_400_in_the_surfaces_own_format(world, path, signed_in, read_error, body):
    client = world.client() if signed_in else Client()
    response = client.post(path.format(**world.ids), body, content_type="application/json")
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert read_error(response.json())


SIGNED_IN_ENDPOINTS = [path for path, signed_in, _ in JSON_ENDPOINTS if signed_in]


@pytest.mark.parametrize("path", SIGNED_IN_ENDPOINTS)
def test_a_caller_without_credentials_hears_401_whatever_the_body(world, path):
    response = Client().post(path.format(**world.ids), DEEP_ARRAY, content_type="application/json")
    assert response.status_code == 401, response.content[:300]


def test_json_nested_within_the_limit_is_read():
    from bytchat.api.parsers import MAX_JSON_DEPTH, load_json

    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert load_json(nested.encode()) is not None
    assert load_json(b'{"n": 12345678901234567890, "f": 1.5e300}') == {
        "n": 12345678901234567890,
        "f": 1.5e300,
    }


# --- Query strings ------------------------------------------------------------------------


def _b64(text: bytes) -> str:
    import base64

    return base64.b64encode(text).decode()


BAD_CURSORS = {
    "not-a-date": "cD1ub3RhZGF0ZQ==",  # base64 of p=notadate
    "not-base64": "%%%not-base64",
    "not-utf8": _b64(b"p=\xff\xfe"),
    "naive-date": _b64(b"p=2024-01-01"),
    "impossible-date": _b64(b"p=2024-13-45 25:61:00+00:00"),
    "huge-year": _b64(b"p=99999-01-01 00:00:00+00:00"),
    "nul-byte": _b64(b"p=2024-01-01%00"),
    "negative-offset": _b64(b"o=-5"),
    "reverse-not-a-number": _b64(b"r=yes"),
    "reverse-huge": _b64(b"r=" + b"9" * 5000),
    "empty-position": _b64(b"p="),
}


def paginated_routes() -> list[str]:
    """Every route whose view pages with the shared cursor paginator."""
    from bytchat.api.pagination import CursorPagination

    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        view_class = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        pagination = getattr(view_class, "pagination_class", None)
        if pagination and issubclass(pagination, CursorPagination):
            found.append(route)
    return found


def test_the_native_lists_page_with_the_shared_cursor_paginator():
    routes_found = paginated_routes()
    for route in (
        "api/v1/conversations",
        "api/v1/conversations/<uuid:conversation_id>/messages",
        "api/v1/analytics/runs",
    ):
        assert route in routes_found
    assert "app/api/conversations" in routes_found


@pytest.mark.parametrize("cursor", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
def test_a_crafted_cursor_is_a_400_invalid_cursor_on_every_paginated_list(world, cursor):
    client = world.client()
    answers = {}
    for route in paginated_routes():
        path = _fill(route, world.ids)
        response = client.get(path, {"cursor": cursor})
        answers[path] = (
            response.status_code,
            response.json()["error"]["code"] if response.status_code == 400 else None,
        )
    assert set(answers.values()) == {(400, "INVALID_CURSOR")}, answers


def test_a_cursor_offset_past_drfs_cutoff_is_held_to_it(world):
    cursor = _b64(b"o=" + b"9" * 30 + b"&p=2024-01-01 00:00:00%2B00:00")
    response = world.client().get("/api/v1/conversations", {"cursor": cursor})
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "path", ["/api/v1/conversations", "/api/v1/conversations/{conversation_id}/messages"]
)
def test_the_cursor_of_a_next_link_still_pages(world, path):
    from chat.models import Conversation, Message

    for number in range(3):
        Conversation.objects.create(user=world.user, bot=world.bot, title=f"More {number}")
        Message.objects.create(conversation=world.conversation, role="user", content=f"More {number}")
    client = world.client()
    first = client.get(path.format(**world.ids), {"limit": 2}).json()
    assert first["next"]
    second = client.get(first["next"])
    assert second.status_code == 200
    seen = {item["id"] for item in first["results"]} & {item["id"] for item in second.json()["results"]}
    assert seen == set()
    assert second.json()["results"]


HUGE = "99999999999999999999"
HOSTILE_QUERIES = {
    "huge": {name: HUGE for name in ("offset", "limit", "days", "page", "k", "cursor")},
    "negative": {name: "-1" for name in ("offset", "limit", "days", "page", "k")},
    "not-a-number": {name: "ten" for name in ("offset", "limit", "days", "page", "k")},
    "nul": {name: "1\x00" for name in ("offset", "limit", "days", "q", "query", "status", "bot", "user_id")},
}


@pytest.mark.parametrize("query", HOSTILE_QUERIES.values(), ids=HOSTILE_QUERIES.keys())
def test_hostile_query_parameters_never_fail_on_any_route(world, query):
    client = world.client()
    responses = []
    for path in world.paths():
        response = client.get(path, query)
        responses.append(("GET", path, response.status_code, response.content))
    failures = _failures(responses)
    assert failures == [], "\n".join(map(str, failures))


OFFSET_LISTS = [
    (MAGICAI + "messages/{conversation_id}", magicai_error),
    (CHAMPIONS + "admin/runs", None),
    (CHAMPIONS + "admin/conversations", None),
]


@pytest.mark.parametrize("path,read_error", OFFSET_LISTS, ids=[path for path, _ in OFFSET_LISTS])
@pytest.mark.parametrize("offset", [HUGE, "-1", "ten", "9" * 2000])
def test_an_offset_no_database_can_take_is_a_400(world, path, read_error, offset):
    response = world.client().get(path.format(**world.ids), {"offset": offset})
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    if read_error is None:  # Champions
        assert body["detail"]["code"] == "VALIDATION_ERROR"
        assert "offset" in body["detail"]["error"]
    else:
        assert "offset" in read_error(body)


@pytest.mark.parametrize("path,read_error", OFFSET_LISTS, ids=[path for path, _ in OFFSET_LISTS])
@pytest.mark.parametrize("offset", ["1000", str(2**63 - 1)])
def test_an_offset_past_the_last_result_is_an_empty_page(world, path, read_error, offset):
    response = world.client().get(path.format(**world.ids), {"offset": offset})
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert (body.get("items") if "items" in body else body["messages"]) == []


# --- Authentication -----------------------------------------------------------------------

SUSPENDED_TOKEN_CASES = [
    ("/api/v1/me", lambda body: body["error"]["message"]),
    ("/api/v1/chat", lambda body: body["error"]["message"]),
    (V1 + "bots/", lambda body: body["detail"]),
    (V1 + "chat/{bot_id}", lambda body: body["detail"]),
    (MAGICAI + "users/me", lambda body: body["message"]),
    (MAGICAI + "messages/{conversation_id}", lambda body: body["message"]),
    (CHAMPIONS + "auth/me", lambda body: body["detail"]["error"]),
    (CHAMPIONS + "chat", lambda body: body["detail"]["error"]),
]


@pytest.mark.parametrize(
    "path,read_message", SUSPENDED_TOKEN_CASES, ids=[path for path, _ in SUSPENDED_TOKEN_CASES]
)
def test_a_suspended_users_old_token_is_a_401_with_a_readable_message(world, path, read_message):
    token = auth_tokens_issue(user=world.user).access
    world.user.status = "suspended"
    world.user.save()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    path = path.format(**world.ids)
    if path.endswith(("chat", f"chat/{world.bot.pk}")) or "messages/" in path:
        response = client.post(
            path, {"message": "Hi", "query": "Hi", "content": "Hi"}, content_type="application/json"
        )
    else:
        response = client.get(path)
    assert response.status_code == 401, response.content[:300]
    assert read_message(response.json()) == "User is inactive"


def test_a_suspended_users_escombot_cookie_is_a_401_in_spanish(world):
    client = world.client()
    world.user.status = "suspended"
    world.user.save()
    response = client.get(ESCOMBOT + "chats", HTTP_AUTHORIZATION="")
    assert response.status_code == 401
    assert response.json() == {"error": "No autenticado"}

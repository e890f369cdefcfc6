"""The document's cURL examples, replayed as written against the mount: the same flags,
the same bodies, the same cookie jar (-c saves it at login, -b sends it back)."""

from __future__ import annotations

import shlex

import pytest
from django.test import Client

from bytchat.compat.escombot.tests.helpers import url

pytestmark = pytest.mark.django_db

DOCUMENT_BASE_URL = "http://localhost:3000/api/"

# Copied from escombot-api.md, "Ejemplos con cURL", in the document's order.
LOGIN = """curl -X POST http://localhost:3000/api/login \\
  -H "Content-Type: application/json" \\
  -d '{"email":"test@example.com","password":"password123"}' \\
  -c cookies.txt"""
LIST_CHATS = """curl http://localhost:3000/api/chats \\
  -b cookies.txt"""
CREATE_CHAT = """curl -X POST http://localhost:3000/api/chats \\
  -H "Content-Type: application/json" \\
  -d '{"title":"Nueva conversación"}' \\
  -b cookies.txt"""
SEND_MESSAGE = """curl -X POST http://localhost:3000/api/messages \\
  -H "Content-Type: application/json" \\
  -d '{"chatId":"<uuid>","message":"¿Cómo puedo ayudarte?"}' \\
  -b cookies.txt"""
READ_MESSAGES = """curl http://localhost:3000/api/chats/<uuid>/messages \\
  -b cookies.txt"""


class Curl:
    """Just enough of curl: -X, -H, -d, -c and -b, with cookie jars kept by file name."""

    def __init__(self) -> None:
        self.jars: dict[str, dict[str, str]] = {}

    def run(self, command: str, **placeholders: str):
        for name, value in placeholders.items():
            command = command.replace(f"<{name}>", value)
        args = shlex.split(command.replace("\\\n", " "))
        assert args.pop(0) == "curl"
        method, headers, data, save_jar, send_jar, address = None, {}, None, None, None, None
        while args:
            arg = args.pop(0)
            if arg == "-X":
                method = args.pop(0)
            elif arg == "-H":
                name, _, value = args.pop(0).partition(":")
                headers[name.strip().lower()] = value.strip()
            elif arg == "-d":
                data = args.pop(0)
            elif arg == "-c":
                save_jar = args.pop(0)
            elif arg == "-b":
                send_jar = args.pop(0)
            else:
                address = arg
        assert address.startswith(DOCUMENT_BASE_URL)
        path = url(address.removeprefix(DOCUMENT_BASE_URL))
        method = method or ("POST" if data is not None else "GET")
        # curl's default for -d, as a browser form would send it.
        content_type = headers.pop("content-type", "application/x-www-form-urlencoded")

        client = Client()
        for name, value in self.jars.get(send_jar, {}).items():
            client.cookies[name] = value
        response = client.generic(
            method,
            path,
            data=(data or "").encode(),
            content_type=content_type if data is not None else None,
            headers=headers,
        )
        if save_jar is not None:
            jar = self.jars.setdefault(save_jar, {})
            jar.update({name: morsel.value for name, morsel in response.cookies.items()})
        return response


def test_the_documents_curl_session_works_as_written(doc_user, escombot):
    curl = Curl()

    login = curl.run(LOGIN)
    assert login.status_code == 200, login.content
    assert login.json()["user"]["email"] == "test@example.com"
    assert "userId" in curl.jars["cookies.txt"]

    listed = curl.run(LIST_CHATS)
    assert listed.status_code == 200 and listed.json() == {"chats": []}

    created = curl.run(CREATE_CHAT)
    assert created.status_code == 201, created.content
    chat = created.json()["chat"]
    assert chat["title"] == "Nueva conversación"

    sent = curl.run(SEND_MESSAGE, uuid=chat["id"])
    assert sent.status_code == 201, sent.content
    assert sent.json()["userMessage"]["content"] == "¿Cómo puedo ayudarte?"
    assert sent.json()["botMessage"]["role"] == "bot"

    history = curl.run(READ_MESSAGES, uuid=chat["id"])
    assert history.status_code == 200
    assert [message["role"] for message in history.json()["messages"]] == ["user", "bot"]

    assert [item["id"] for item in curl.run(LIST_CHATS).json()["chats"]] == [chat["id"]]


def test_without_the_cookie_jar_the_examples_are_401(escombot):
    response = Curl().run(LIST_CHATS)
    assert response.status_code == 401 and response.json() == {"error": "No autenticado"}


def test_a_post_without_the_json_header_is_refused_as_curl_sends_it(doc_user, escombot):
    curl = Curl()
    curl.run(LOGIN)
    without_header = CREATE_CHAT.replace('  -H "Content-Type: application/json" \\\n', "")
    response = curl.run(without_header)
    assert response.status_code == 415
    assert response.json() == {"error": "Content-Type debe ser application/json"}

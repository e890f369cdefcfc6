"""A client's whole ESCOMBOT session through the mount: log in, list, chat, read history."""

from __future__ import annotations

import pytest
from django.test import Client

from bytchat.compat.escombot.tests.helpers import login, url
from chat.models import Message

pytestmark = pytest.mark.django_db


def test_a_student_logs_in_asks_twice_and_reads_the_conversation_back(doc_user, escombot):
    client = Client()
    assert login(client).json()["user"]["id"] == str(doc_user.pk)

    assert client.get(url("chats")).json() == {"chats": []}

    chat = client.post(url("chats"), {"title": "Constancias"}, content_type="application/json").json()["chat"]

    questions = ["¿Cómo obtengo una constancia?", "¿Cuántos días tarda la constancia?"]
    answers = []
    for question in questions:
        response = client.post(
            url("messages"), {"chatId": chat["id"], "message": question}, content_type="application/json"
        )
        assert response.status_code == 201, response.content
        answers.append(response.json()["botMessage"])
        assert answers[-1]["content"]

    history = client.get(url(f"chats/{chat['id']}/messages")).json()["messages"]
    assert [(message["role"], message["content"]) for message in history] == [
        ("user", questions[0]),
        ("bot", answers[0]["content"]),
        ("user", questions[1]),
        ("bot", answers[1]["content"]),
    ]
    assert [message["id"] for message in history][1::2] == [answer["id"] for answer in answers]

    chats = client.get(url("chats")).json()["chats"]
    assert [(item["id"], item["title"]) for item in chats] == [(chat["id"], "Constancias")]
    assert chats[0]["updatedAt"] >= chats[0]["createdAt"]
    assert Message.objects.filter(conversation_id=chat["id"]).count() == 4

    # Another browser, without the cookie, sees nothing.
    assert Client().get(url(f"chats/{chat['id']}/messages")).status_code == 401


def test_the_session_works_under_asgi_as_deployed(doc_user, escombot):
    """POST /messages is an async view: run the whole turn through Django's ASGI handler."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    cookie = login(Client()).cookies["userId"].value

    async def run():
        client = AsyncClient()
        client.cookies["userId"] = cookie
        created = await client.post(url("chats"), {"title": "ASGI"}, content_type="application/json")
        chat_id = created.json()["chat"]["id"]
        sent = await client.post(
            url("messages"),
            {"chatId": chat_id, "message": "¿Cómo me inscribo?"},
            content_type="application/json",
        )
        history = await client.get(url(f"chats/{chat_id}/messages"))
        return sent, history

    sent, history = async_to_sync(run)()
    assert sent.status_code == 201, sent.content
    assert sent.json()["botMessage"]["role"] == "bot"
    assert [message["role"] for message in history.json()["messages"]] == ["user", "bot"]

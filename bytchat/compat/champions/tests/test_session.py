"""A Champions client's whole session through the mount: log in, look around, chat, read
the history back, rate the answer, tidy up."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD, make_user
from bots.tests.factories import make_bot
from bytchat.compat.champions.tests.helpers import LOAN_GUIDE, stream_chat, url
from chat.tests.helpers import add_knowledge

pytestmark = pytest.mark.django_db


def test_a_loan_officers_session(settings):
    settings.ALLOWED_EMAIL_DOMAINS = ["championsfunding.com"]
    officer = make_user(email="usuario@championsfunding.com")
    assistant = make_bot(owner=None, is_public=True, name_en="Loan Expert")
    add_knowledge(assistant, "DSCR_Matrix.md", LOAN_GUIDE)
    client = APIClient()

    login = client.post(url("auth/login"), {"email": officer.email, "password": PASSWORD}, format="json")
    assert login.status_code == 200
    access_token = login.json()["access_token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    assert client.get(url("auth/me")).json()["role"] == "rep"

    suggestions = client.get(url("suggestions")).json()["suggestions"]
    assert suggestions and all(item["source"] == "default" for item in suggestions)
    assert client.get(url("conversations")).json() == {"items": [], "next_cursor": None}

    question = {
        "message": "What is the minimum DSCR?",
        "conversation_id": None,
        "stream": True,
        "metadata_filter": None,
    }
    status, _, events = stream_chat(access_token, question)
    assert status == 200
    conversation_id = events[0]["conversation_id"]
    answer_text = "".join(event["content"] for event in events if event["type"] == "delta")
    assert "1.0" in answer_text and events[-1]["type"] == "done"

    follow_up = {**question, "message": "And the reserves?", "conversation_id": conversation_id}
    status, _, events = stream_chat(access_token, follow_up)
    assert status == 200 and events[0]["conversation_id"] == conversation_id
    last_answer_id = events[-1]["message_id"]

    listed = client.get(url("conversations")).json()["items"]
    assert [item["id"] for item in listed] == [conversation_id]
    assert listed[0]["title"] == "What is the minimum DSCR?"

    history = client.get(url(f"conversations/{conversation_id}")).json()
    assert [message["role"] for message in history["messages"]] == ["user", "assistant", "user", "assistant"]
    assert history["messages"][1]["content"] == answer_text
    assert history["messages"][3]["id"] == last_answer_id
    assert {citation["source_name"] for citation in history["citations"]} == {"DSCR_Matrix.md"}

    rated = client.post(
        url("conversations/feedback"),
        {"message_id": last_answer_id, "rating": "thumbs_up", "comment": "¡Muy útil!"},
        format="json",
    )
    assert rated.status_code == 200
    assert client.get(url("suggestions")).json()["suggestions"][0] == {
        "text": "And the reserves?",
        "source": "feedback",
    }

    renamed = client.patch(url(f"conversations/{conversation_id}"), {"title": "DSCR"}, format="json")
    assert renamed.json()["title"] == "DSCR"
    archived = client.post(url(f"conversations/{conversation_id}/archive"), {"archived": True}, format="json")
    assert archived.json()["archived"] is True
    assert client.get(url("conversations")).json()["items"] == []
    assert client.get(url("conversations"), {"include_archived": True}).json()["items"][0]["title"] == "DSCR"


@pytest.mark.urls("bytchat.compat.champions.tests.remounted_urls")
def test_the_api_works_the_same_at_another_prefix(settings):
    settings.ALLOWED_EMAIL_DOMAINS = []
    officer = make_user(email="usuario@championsfunding.com")
    client = APIClient()
    login = client.post("/api/auth/login", {"email": officer.email, "password": PASSWORD}, format="json")
    assert login.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access_token']}")
    assert client.get("/api/auth/me").json()["email"] == officer.email
    assert client.get("/api/conversations").json() == {"items": [], "next_cursor": None}

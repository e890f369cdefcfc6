"""A v1 client's whole session through the mount: sign up, log in, build and train a bot,
list the bots, chat, and read the history back (with the same token; v1 itself has no
history endpoint, so the client reads it from the native API)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from bytchat.compat.bytchat_v1.tests.helpers import log_in, v1, v1_chat

pytestmark = pytest.mark.django_db

GUIDE = (
    "Parrot care. A parrot needs fresh water every day and fruit twice a week. "
    "Parrots sleep about twelve hours a night."
)


def test_a_client_signs_up_trains_a_bot_chats_and_reads_the_history(django_capture_on_commit_callbacks):
    client = APIClient()
    email, password = "capitan@ejemplo.com", "una-clave-segura"

    signed_up = client.post(v1("users/"), {"email": email, "password": password}, format="json")
    assert signed_up.status_code == 200, signed_up.content
    token = log_in(client, email, password).json()["access_token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    created = client.post(
        v1("bots/"),
        {
            "name": "Loro",
            "description": "Sabe de loros.",
            "initial_configs": [{"task_type": "general", "provider": "local", "model_id": "local"}],
        },
        format="json",
    )
    assert created.status_code == 200, created.content
    bot_id = created.json()["id"]
    prompt = {"system_prompt": "Ahora eres un robot pirata que habla como tal."}
    assert client.put(v1(f"bots/{bot_id}"), prompt, format="json").status_code == 200
    added = client.post(
        v1(f"bots/{bot_id}/models/"),
        {"provider": "local", "model_id": "local", "task_type": "complex"},
        format="json",
    )
    assert added.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        trained = client.post(
            v1(f"bots/{bot_id}/train"),
            {"file": SimpleUploadedFile("parrots.txt", GUIDE.encode(), content_type="text/plain")},
            format="multipart",
        )
    assert trained.status_code == 200, trained.content

    bots = client.get(v1("bots/")).json()
    assert [(bot["id"], bot["name"], bot["system_prompt"]) for bot in bots] == [
        (bot_id, "Loro", prompt["system_prompt"])
    ]
    assert {config["task_type"] for config in bots[0]["model_configs"]} == {"general", "complex"}

    answer = v1_chat(token, bot_id, body={"query": "How often does a parrot need fruit?"})
    assert answer.status == 200, answer.text
    assert "twice a week" in answer.text
    old_style = v1_chat(token, bot_id, query="How long do parrots sleep?")
    assert old_style.status == 200 and "twelve hours" in old_style.text

    history = client.get(f"/api/v1/conversations/{answer.headers['x-conversation-id']}/messages")
    assert history.status_code == 200, history.content
    messages = history.json()["results"]
    assert [(message["role"], message["content"]) for message in messages] == [
        ("user", "How often does a parrot need fruit?"),
        ("assistant", answer.text),
    ]
    assert messages[1]["citations"][0]["source_name"] == "parrots.txt"

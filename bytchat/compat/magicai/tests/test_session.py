"""A MagicAI client's whole session through the mount, as its front end runs it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD, make_user
from bots.tests.factories import make_bot, make_category
from bytchat.compat.magicai.tests.helpers import assert_error, url
from chat.tests.helpers import add_knowledge

pytestmark = pytest.mark.django_db


def test_a_client_logs_in_onboards_picks_an_agent_chats_and_reads_its_history():
    make_user(email="ana@example.com", full_name="Ana")
    category = make_category(name_es="Recursos Humanos", name_en="Human Resources", display_order=1)
    agent = make_bot(
        owner=None, is_public=True, category=category, name_es="Asistente de RRHH", name_en="HR Assistant"
    )
    add_knowledge(agent, "vacaciones.txt", "Cada empleado tiene veintidós días de vacaciones pagadas al año.")
    client = APIClient()

    login = client.post(url("auth/login"), {"email": "ana@example.com", "password": PASSWORD}, format="json")
    assert login.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['token']}")
    assert login.json()["user"]["onboardingCompleted"] is False

    # Onboarding: pick a language, finish.
    assert client.get(url("onboarding/status")).json() == {"onboardingCompleted": False, "language": "ES"}
    assert client.post(url("onboarding/language"), {"language": "EN"}, format="json").status_code == 200
    assert client.post(url("onboarding/complete")).json() == {"onboardingCompleted": True}
    me = client.get(url("users/me")).json()
    assert (me["fullName"], me["language"], me["onboardingCompleted"], me["role"]) == (
        "Ana",
        "EN",
        True,
        "USER",
    )

    # Browse: categories and agents now come in English.
    [listed_category] = client.get(url("categories")).json()["categories"]
    assert (listed_category["name"], listed_category["agentCount"]) == ("Human Resources", 1)
    [listed_agent] = client.get(url("agents/by-category"), {"categoryId": listed_category["id"]}).json()[
        "agents"
    ]
    assert listed_agent["name"] == "HR Assistant"
    assert client.get(url(f"agents/{listed_agent['id']}")).json()["aiProvider"] == "LOCAL"

    # Chat.
    created = client.post(
        url("conversations"), {"agentId": listed_agent["id"], "title": "Vacaciones"}, format="json"
    )
    assert created.status_code == 201
    conversation_id = created.json()["id"]
    sent = client.post(
        url(f"messages/{conversation_id}"), {"content": "¿Cuántos días de vacaciones tengo?"}, format="json"
    )
    assert sent.status_code == 201
    answer = sent.json()["assistantMessage"]
    assert "veintidós días" in answer["content"]

    # History.
    history = client.get(url(f"messages/{conversation_id}")).json()
    assert history["total"] == 2
    assert [(item["role"], item["id"]) for item in history["messages"]] == [
        ("USER", sent.json()["userMessage"]["id"]),
        ("ASSISTANT", answer["id"]),
    ]
    [listed] = client.get(url("conversations")).json()["conversations"]
    assert (listed["id"], listed["title"], listed["messageCount"]) == (conversation_id, "Vacaciones", 2)
    assert listed["lastMessageAt"] is not None
    assert listed["agent"]["nameEn"] == "HR Assistant"

    # Tidy up.
    assert (
        client.put(
            url(f"conversations/{conversation_id}/title"), {"title": "Días libres"}, format="json"
        ).json()["title"]
        == "Días libres"
    )
    assert client.delete(url(f"conversations/{conversation_id}")).status_code == 200
    assert client.get(url("conversations")).json() == {"conversations": []}
    assert_error(client.get(url(f"messages/{conversation_id}")), 404)


def test_sending_a_message_works_under_asgi(user):
    """The message endpoint is an async view: through Django's ASGI handler too."""
    import json

    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    from accounts.services import auth_tokens_issue
    from analytics.tests.factories import make_conversation

    agent = make_bot(owner=None, is_public=True, name_es="Ayudante")
    conversation = make_conversation(user=user, bot=agent)
    token = auth_tokens_issue(user=user).access

    async def send():
        return await AsyncClient().post(
            url(f"messages/{conversation.pk}"),
            {"content": "hola"},
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )

    response = async_to_sync(send)()
    assert response.status_code == 201
    body = json.loads(response.content)
    assert (body["userMessage"]["content"], body["assistantMessage"]["role"]) == ("hola", "ASSISTANT")

"""Every endpoint of magicai-api.md, with the document's example requests: statuses, every
documented key and its JSON type, the documented errors, and ownership with a second user."""

from __future__ import annotations

import uuid

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import Plan, User
from accounts.services import user_update_profile
from accounts.tests.factories import PASSWORD, make_user
from analytics.tests.factories import make_conversation, make_exchange
from bots.models import Bot
from bots.tests.factories import make_bot, make_category
from bytchat.compat.magicai.tests.helpers import PLAN_SHAPE, assert_error, assert_shape, url
from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db

USER_SHAPE = {
    "id": str,
    "email": str,
    "fullName": str,
    "role": str,
    "onboardingCompleted": bool,
    "subscriptionType": PLAN_SHAPE,
}
CATEGORY_SHAPE = {
    "id": str,
    "name": str,
    "description": str,
    "icon": str,
    "displayOrder": int,
    "agentCount": int,
}
AGENT_SHAPE = {"id": str, "name": str, "description": str, "aiProvider": str, "hasTools": bool}
CONVERSATION_SHAPE = {
    "id": str,
    "title": str,
    "messageCount": int,
    "lastMessageAt": (str, type(None)),
    "createdAt": str,
    "agent": {"id": str, "nameEs": str, "nameEn": str},
}
MESSAGE_SHAPE = {"id": str, "role": str, "content": str, "createdAt": str}


@pytest.fixture
def plan(db):
    """The default plan (a migration creates it), with MagicAI's example limits."""
    default = Plan.objects.get(is_default=True)
    Plan.objects.filter(pk=default.pk).update(
        name="Free", max_conversations_per_bot=5, max_messages_per_conversation=100
    )
    return Plan.objects.get(pk=default.pk)


@pytest.fixture
def writing(db):
    return make_category(
        name_es="Redacción y Contenido",
        name_en="Writing and Content",
        description_es="Textos profesionales",
        description_en="Professional texts",
        icon="✍️",
        display_order=1,
    )


@pytest.fixture
def agent(writing):
    bot = make_bot(
        owner=None,
        is_public=True,
        category=writing,
        name_es="Asistente de Redacción",
        name_en="Writing Assistant",
        description_es="Ayuda con textos profesionales...",
        description_en="Helps with professional texts...",
    )
    bot.model_configs.update(provider="openai", model_id="gpt-4o-mini")
    return bot


@pytest.fixture
def local_agent(writing):
    """An agent answering offline, for the tests that chat."""
    return make_bot(owner=None, is_public=True, category=writing, name_es="Ayudante", name_en="Helper")


@pytest.fixture
def private_bot(other_user):
    return make_bot(owner=other_user, name_es="Privado de Bob")


# --- Auth --------------------------------------------------------------------------------
class TestLogin:
    def test_it_logs_in_with_the_documented_request(self, api_client, plan):
        make_user(email="admin@magicai.com", password="admin123", role="admin", full_name="Admin User")
        response = api_client.post(
            url("auth/login"), {"email": "admin@magicai.com", "password": "admin123"}, format="json"
        )
        assert response.status_code == 200
        body = response.json()
        assert_shape(body, {"token": str, "user": USER_SHAPE})
        assert body["user"]["role"] == "ADMIN"
        assert body["user"]["fullName"] == "Admin User"
        assert body["user"]["subscriptionType"] == {
            "id": str(plan.public_id),
            "name": "Free",
            "maxConversationsPerAgent": 5,
            "maxMessagesPerConversation": 100,
        }

    def test_the_token_is_a_bearer_token_for_every_other_endpoint(self, api_client, user):
        token = api_client.post(
            url("auth/login"), {"email": user.email, "password": PASSWORD}, format="json"
        ).json()["token"]
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert api_client.get(url("users/me")).json()["email"] == user.email

    def test_it_answers_401_with_one_message_for_a_wrong_password_or_an_unknown_email(self, api_client, user):
        wrong = api_client.post(url("auth/login"), {"email": user.email, "password": "nope"}, format="json")
        unknown = api_client.post(
            url("auth/login"), {"email": "nobody@example.com", "password": "nope"}, format="json"
        )
        assert assert_error(wrong, 401) == assert_error(unknown, 401)

    def test_it_answers_400_when_the_request_does_not_validate(self, api_client):
        response = api_client.post(url("auth/login"), {"email": "not-an-email"}, format="json")
        body = assert_error(response, 400)
        assert set(body["errors"]) == {"email", "password"}

    def test_a_bad_token_is_a_401(self, api_client):
        api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
        assert_error(api_client.get(url("users/me")), 401)

    def test_no_token_is_a_401(self, api_client):
        assert_error(api_client.get(url("users/me")), 401)


class TestRegister:
    REQUEST = {
        "email": "user@example.com",
        "password": "a-much-longer-passphrase",
        "fullName": "John Doe",
        "role": "USER",
    }

    def test_an_admin_creates_a_user(self, admin_client_api, plan):
        other_plan = Plan.objects.create(
            name="Pro", max_conversations_per_bot=50, max_messages_per_conversation=500
        )
        response = admin_client_api.post(
            url("auth/register"),
            {**self.REQUEST, "subscriptionTypeId": str(other_plan.public_id)},
            format="json",
        )
        assert response.status_code == 201
        body = response.json()
        assert_shape(
            body, {"id": str, "email": str, "fullName": str, "role": str, "subscriptionType": PLAN_SHAPE}
        )
        assert (body["email"], body["fullName"], body["role"]) == ("user@example.com", "John Doe", "USER")
        assert body["subscriptionType"]["name"] == "Pro"
        created = User.objects.get(email="user@example.com")
        assert created.check_password("a-much-longer-passphrase")
        assert created.plan == other_plan

    def test_the_plan_id_is_a_uuid_as_documented(self, admin_client_api, plan):
        response = admin_client_api.post(
            url("auth/register"), {**self.REQUEST, "subscriptionTypeId": str(plan.public_id)}, format="json"
        )
        assert response.status_code == 201
        assert uuid.UUID(response.json()["subscriptionType"]["id"]) == plan.public_id

    @pytest.mark.parametrize("old_id", [lambda plan: plan.pk, lambda plan: str(plan.pk)])
    def test_the_integer_plan_id_of_earlier_releases_is_still_accepted(self, admin_client_api, old_id):
        other_plan = Plan.objects.create(name="Pro")
        response = admin_client_api.post(
            url("auth/register"), {**self.REQUEST, "subscriptionTypeId": old_id(other_plan)}, format="json"
        )
        assert response.status_code == 201
        assert response.json()["subscriptionType"]["id"] == str(other_plan.public_id)
        assert User.objects.get(email="user@example.com").plan == other_plan

    @pytest.mark.parametrize(
        "bad_id", [str(uuid.uuid4()), "not-a-plan", 99999999999999999999999, True, {"id": 1}]
    )
    def test_an_unknown_plan_id_is_a_400(self, admin_client_api, bad_id):
        response = admin_client_api.post(
            url("auth/register"), {**self.REQUEST, "subscriptionTypeId": bad_id}, format="json"
        )
        assert "subscriptionTypeId" in assert_error(response, 400)["errors"]
        assert not User.objects.filter(email="user@example.com").exists()

    def test_an_admin_creates_an_admin(self, admin_client_api):
        response = admin_client_api.post(
            url("auth/register"), {**self.REQUEST, "role": "ADMIN"}, format="json"
        )
        assert response.status_code == 201
        assert User.objects.get(email="user@example.com").role == "admin"

    @pytest.mark.parametrize("caller", ["user_client", "manager_client"])
    def test_only_a_bytchat_admin_may_register(self, request, caller):
        client = request.getfixturevalue(caller)
        assert_error(client.post(url("auth/register"), self.REQUEST, format="json"), 403)
        assert not User.objects.filter(email="user@example.com").exists()

    def test_anonymous_is_a_401(self, api_client):
        assert_error(api_client.post(url("auth/register"), self.REQUEST, format="json"), 401)

    def test_the_documents_weak_example_password_is_refused(self, admin_client_api):
        response = admin_client_api.post(
            url("auth/register"), {**self.REQUEST, "password": "password123"}, format="json"
        )
        assert "password" in assert_error(response, 400)["errors"]

    def test_a_taken_email_is_a_400(self, admin_client_api, user):
        response = admin_client_api.post(
            url("auth/register"), {**self.REQUEST, "email": user.email}, format="json"
        )
        assert "email" in assert_error(response, 400)["errors"]

    def test_an_unknown_role_is_a_400(self, admin_client_api):
        response = admin_client_api.post(
            url("auth/register"), {**self.REQUEST, "role": "ROOT"}, format="json"
        )
        assert "role" in assert_error(response, 400)["errors"]


class TestForgotPassword:
    def test_it_sends_a_link_to_an_existing_account(
        self, api_client, user, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = api_client.post(url("auth/forgot-password"), {"email": user.email}, format="json")
        assert response.status_code == 200
        assert response.json() == {"message": "If the email exists, a reset link will be sent"}
        assert [message.to for message in mail.outbox] == [[user.email]]

    def test_it_answers_the_same_for_an_unknown_email(self, api_client, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = api_client.post(
                url("auth/forgot-password"), {"email": "user@example.com"}, format="json"
            )
        assert response.status_code == 200
        assert response.json() == {"message": "If the email exists, a reset link will be sent"}
        assert mail.outbox == []

    def test_an_invalid_email_is_a_400(self, api_client):
        assert_error(api_client.post(url("auth/forgot-password"), {"email": "nope"}, format="json"), 400)


# --- Users -------------------------------------------------------------------------------
class TestUsers:
    def test_me_returns_the_user_with_role_and_language(self, user_client, user, plan):
        response = user_client.get(url("users/me"))
        assert response.status_code == 200
        body = response.json()
        assert_shape(body, {**USER_SHAPE, "language": str})
        assert (body["id"], body["role"], body["language"]) == (str(user.pk), "USER", "ES")

    def test_a_manager_reads_as_admin(self, manager_client):
        assert manager_client.get(url("users/me")).json()["role"] == "ADMIN"

    def test_update_me_saves_the_full_name(self, user_client, user):
        response = user_client.put(url("users/me"), {"fullName": "John Smith"}, format="json")
        assert response.status_code == 200
        assert_shape(response.json(), {"id": str, "email": str, "fullName": str})
        assert response.json()["fullName"] == "John Smith"
        user.refresh_from_db()
        assert user.full_name == "John Smith"

    def test_update_me_refuses_a_bad_language(self, user_client):
        assert_error(user_client.put(url("users/me"), {"language": "FR"}, format="json"), 400)

    @pytest.mark.parametrize("caller", ["admin_client_api", "manager_client"])
    def test_staff_list_every_user(self, request, caller, user, plan):
        response = request.getfixturevalue(caller).get(url("users"))
        assert response.status_code == 200
        users = response.json()["users"]
        assert_shape(
            users[0],
            {
                "id": str,
                "email": str,
                "fullName": str,
                "role": str,
                "isActive": bool,
                "onboardingCompleted": bool,
                "subscriptionType": PLAN_SHAPE,
                "createdAt": str,
            },
        )
        assert user.email in {item["email"] for item in users}

    def test_a_user_may_not_list_users(self, user_client):
        assert_error(user_client.get(url("users")), 403)


# --- Onboarding --------------------------------------------------------------------------
class TestOnboarding:
    def test_a_new_user_has_not_completed_onboarding(self, user_client):
        response = user_client.get(url("onboarding/status"))
        assert response.status_code == 200
        assert response.json() == {"onboardingCompleted": False, "language": "ES"}

    def test_choosing_the_language_saves_it_on_the_user(self, user_client, user):
        response = user_client.post(url("onboarding/language"), {"language": "EN"}, format="json")
        assert response.status_code == 200
        body = response.json()
        assert_shape(body, {"id": str, "userId": str, "language": str, "createdAt": str, "updatedAt": str})
        assert (body["userId"], body["language"]) == (str(user.pk), "EN")
        user.refresh_from_db()
        assert user.language == "en"
        assert user_client.get(url("onboarding/status")).json()["language"] == "EN"

    def test_only_es_and_en(self, user_client):
        body = assert_error(
            user_client.post(url("onboarding/language"), {"language": "FR"}, format="json"), 400
        )
        assert "language" in body["errors"]

    def test_completing_onboarding_is_stored(self, user_client, user):
        response = user_client.post(url("onboarding/complete"))
        assert response.status_code == 200
        assert response.json() == {"onboardingCompleted": True}
        user.refresh_from_db()
        assert user.onboarding_completed


# --- Categories --------------------------------------------------------------------------
class TestCategories:
    def test_list_in_the_users_language(self, user_client, user, writing, agent, private_bot):
        private_bot.category = writing
        private_bot.save()
        response = user_client.get(url("categories"))
        assert response.status_code == 200
        [category] = response.json()["categories"]
        assert_shape(category, CATEGORY_SHAPE)
        assert (category["name"], category["description"]) == (
            "Redacción y Contenido",
            "Textos profesionales",
        )
        assert category["agentCount"] == 1  # another user's private bot is not counted
        user_update_profile(user=user, language="en")
        assert user_client.get(url("categories")).json()["categories"][0]["name"] == "Writing and Content"

    def test_a_category_shows_how_many_agents_it_has(self, user_client, writing, agent):
        response = user_client.get(url(f"categories/{writing.pk}"))
        assert response.status_code == 200
        assert_shape(response.json(), CATEGORY_SHAPE)
        assert response.json()["agentCount"] == 1

    def test_an_unknown_category_is_a_404(self, user_client):
        assert_error(user_client.get(url(f"categories/{uuid.uuid4()}")), 404)

    def test_an_admin_creates_one(self, admin_client_api):
        request = {
            "nameEs": "Nueva Categoría",
            "nameEn": "New Category",
            "descriptionEs": "Descripción en español",
            "descriptionEn": "Description in English",
            "icon": "🆕",
            "displayOrder": 7,
        }
        response = admin_client_api.post(url("categories"), request, format="json")
        assert response.status_code == 201
        body = response.json()
        assert_shape(body, {"id": str, "nameEs": str, "nameEn": str})
        assert {key: body[key] for key in request} == request

    def test_an_admin_updates_one(self, admin_client_api, writing):
        response = admin_client_api.put(
            url(f"categories/{writing.pk}"),
            {"nameEs": "Categoría Actualizada", "isActive": True},
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["nameEs"] == "Categoría Actualizada"
        writing.refresh_from_db()
        assert writing.name_es == "Categoría Actualizada"

    def test_an_admin_deletes_one_softly(self, admin_client_api, user_client, writing):
        response = admin_client_api.delete(url(f"categories/{writing.pk}"))
        assert response.status_code == 200
        assert response.json() == {"message": "Category deleted successfully"}
        writing.refresh_from_db()
        assert not writing.is_active
        assert user_client.get(url("categories")).json() == {"categories": []}
        assert_error(user_client.get(url(f"categories/{writing.pk}")), 404)

    @pytest.mark.parametrize("caller", ["user_client", "manager_client"])
    def test_only_an_admin_writes(self, request, caller, writing):
        client = request.getfixturevalue(caller)
        assert_error(client.post(url("categories"), {"nameEs": "x", "nameEn": "x"}, format="json"), 403)
        assert_error(client.put(url(f"categories/{writing.pk}"), {"nameEs": "x"}, format="json"), 403)
        assert_error(client.delete(url(f"categories/{writing.pk}")), 403)
        writing.refresh_from_db()
        assert writing.is_active and writing.name_es == "Redacción y Contenido"

    def test_a_create_without_names_is_a_400(self, admin_client_api):
        body = assert_error(admin_client_api.post(url("categories"), {"icon": "x"}, format="json"), 400)
        assert {"nameEs", "nameEn"} <= set(body["errors"])


# --- Agents ------------------------------------------------------------------------------
class TestAgents:
    def test_users_see_the_public_agents_with_their_category(self, user_client, agent, private_bot):
        response = user_client.get(url("agents"))
        assert response.status_code == 200
        [item] = response.json()["agents"]
        assert_shape(item, {**AGENT_SHAPE, "category": {"id": str, "name": str}})
        assert item["name"] == "Asistente de Redacción"
        assert item["aiProvider"] == "OPENAI"
        assert item["hasTools"] is False
        assert item["category"]["name"] == "Redacción y Contenido"

    def test_names_follow_the_users_language(self, user_client, user, agent):
        user.language = "en"
        user.save()
        item = user_client.get(url("agents")).json()["agents"][0]
        assert (item["name"], item["category"]["name"]) == ("Writing Assistant", "Writing and Content")

    def test_by_category_lists_only_that_categorys_agents(self, user_client, agent, writing):
        make_bot(owner=None, is_public=True, category=make_category(), name_es="Otro")
        response = user_client.get(url("agents/by-category"), {"categoryId": str(writing.pk)})
        assert response.status_code == 200
        [item] = response.json()["agents"]
        assert_shape(item, AGENT_SHAPE)
        assert item["id"] == str(agent.pk)

    def test_by_category_needs_the_category(self, user_client):
        assert_error(user_client.get(url("agents/by-category")), 400)
        assert_error(user_client.get(url("agents/by-category"), {"categoryId": "nope"}), 400)
        assert_error(user_client.get(url("agents/by-category"), {"categoryId": str(uuid.uuid4())}), 404)

    def test_an_agent_shows_its_model_name(self, user_client, agent):
        response = user_client.get(url(f"agents/{agent.pk}"))
        assert response.status_code == 200
        body = response.json()
        assert_shape(body, {**AGENT_SHAPE, "modelName": str, "category": {"id": str, "name": str}})
        assert body["modelName"] == "gpt-4o-mini"

    def test_another_users_private_bot_is_a_404(self, user_client, private_bot):
        assert_error(user_client.get(url(f"agents/{private_bot.pk}")), 404)
        assert str(private_bot.pk) not in {
            item["id"] for item in user_client.get(url("agents")).json()["agents"]
        }

    def test_an_admin_creates_a_simple_agent(self, admin_client_api, user_client, writing):
        request = {
            "categoryId": str(writing.pk),
            "nameEs": "Mi Agente",
            "nameEn": "My Agent",
            "descriptionEs": "Descripción del agente",
            "descriptionEn": "Agent description",
            "systemPrompt": "Eres un asistente experto en...",
            "aiProvider": "OPENAI",
            "modelName": "gpt-4o-mini",
        }
        response = admin_client_api.post(url("agents"), request, format="json")
        assert response.status_code == 201
        body = response.json()
        assert {key: body[key] for key in request} == request
        bot = Bot.objects.get(pk=body["id"])
        assert bot.owner is None and bot.is_public
        assert [(config.provider, config.model_id) for config in bot.model_configs.all()] == [
            ("openai", "gpt-4o-mini")
        ]
        # Every user sees it, in their language.
        assert user_client.get(url(f"agents/{bot.pk}")).json()["name"] == "Mi Agente"

    def test_a_provider_outside_openai_and_gemini_is_a_400(self, admin_client_api):
        request = {"nameEs": "X", "aiProvider": "ANTHROPIC", "modelName": "claude"}
        assert (
            "aiProvider"
            in assert_error(admin_client_api.post(url("agents"), request, format="json"), 400)["errors"]
        )

    def test_an_admin_updates_an_agent(self, admin_client_api, agent):
        response = admin_client_api.put(
            url(f"agents/{agent.pk}"),
            {"nameEs": "Redactor", "aiProvider": "GEMINI", "modelName": "gemini-pro"},
            format="json",
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["nameEs"], body["aiProvider"], body["modelName"]) == ("Redactor", "GEMINI", "gemini-pro")
        agent.refresh_from_db()
        assert agent.name_es == "Redactor"

    def test_an_admin_deletes_an_agent_softly(self, admin_client_api, user_client, agent):
        response = admin_client_api.delete(url(f"agents/{agent.pk}"))
        assert response.status_code == 200
        assert_shape(response.json(), {"message": str})
        agent.refresh_from_db()
        assert not agent.is_active
        assert_error(user_client.get(url(f"agents/{agent.pk}")), 404)

    @pytest.mark.parametrize("caller", ["user_client", "manager_client"])
    def test_only_an_admin_writes(self, request, caller, agent):
        client = request.getfixturevalue(caller)
        create = {"nameEs": "X", "aiProvider": "OPENAI", "modelName": "gpt-4o"}
        assert_error(client.post(url("agents"), create, format="json"), 403)
        assert_error(client.put(url(f"agents/{agent.pk}"), {"nameEs": "X"}, format="json"), 403)
        assert_error(client.delete(url(f"agents/{agent.pk}")), 403)
        agent.refresh_from_db()
        assert agent.is_active and agent.name_es == "Asistente de Redacción"

    def test_an_admin_cannot_reach_a_users_private_bot(self, admin_client_api, private_bot):
        assert_error(
            admin_client_api.put(url(f"agents/{private_bot.pk}"), {"nameEs": "X"}, format="json"), 404
        )
        assert_error(admin_client_api.delete(url(f"agents/{private_bot.pk}")), 404)


# --- Conversations -----------------------------------------------------------------------
class TestConversations:
    def test_a_new_conversation_belongs_to_the_user(self, user_client, user, agent):
        request = {"agentId": str(agent.pk), "title": "Mi nueva conversación", "confirmDelete": False}
        response = user_client.post(url("conversations"), request, format="json")
        assert response.status_code == 201
        body = response.json()
        assert_shape(body, {"id": str, "title": str, "agentId": str, "createdAt": str})
        assert (body["title"], body["agentId"]) == ("Mi nueva conversación", str(agent.pk))
        assert Conversation.objects.get(pk=body["id"]).user == user

    def test_the_limit_asks_for_confirmation_then_evicts_the_oldest(self, user_client, user, agent):
        user.plan = Plan.objects.create(name="Tiny", max_conversations_per_bot=2)
        user.save()
        oldest = make_conversation(user=user, bot=agent, title="Conversación antigua")
        make_conversation(user=user, bot=agent, title="Reciente")
        request = {"agentId": str(agent.pk), "title": "Mi nueva conversación", "confirmDelete": False}

        response = user_client.post(url("conversations"), request, format="json")
        assert response.status_code == 200
        body = response.json()
        assert_shape(
            body,
            {"requiresConfirmation": bool, "warning": str, "oldestConversation": {"id": str, "title": str}},
        )
        assert body["requiresConfirmation"] is True
        assert body["oldestConversation"] == {"id": str(oldest.pk), "title": "Conversación antigua"}
        assert body["warning"] == (
            "Has alcanzado el límite de 2 conversaciones para este agente. "
            "La conversación 'Conversación antigua' será eliminada al crear una nueva."
        )
        assert Conversation.objects.filter(user=user).count() == 2

        response = user_client.post(url("conversations"), {**request, "confirmDelete": True}, format="json")
        assert response.status_code == 201
        assert not Conversation.objects.filter(pk=oldest.pk).exists()
        assert Conversation.objects.filter(user=user).count() == 2

    def test_create_with_an_agent_you_cannot_see_is_a_404(self, user_client, private_bot):
        response = user_client.post(url("conversations"), {"agentId": str(private_bot.pk)}, format="json")
        assert_error(response, 404)

    def test_create_without_an_agent_is_a_400(self, user_client):
        assert (
            "agentId"
            in assert_error(user_client.post(url("conversations"), {}, format="json"), 400)["errors"]
        )

    def test_list_and_filter_by_agent(self, user_client, user, other_user, agent, local_agent):
        mine = make_conversation(user=user, bot=agent, title="Conversación sobre marketing")
        make_conversation(user=user, bot=local_agent)
        make_conversation(user=other_user, bot=agent)
        response = user_client.get(url("conversations"))
        assert response.status_code == 200
        conversations = response.json()["conversations"]
        assert len(conversations) == 2
        for item in conversations:
            assert_shape(item, CONVERSATION_SHAPE)
        filtered = user_client.get(url("conversations"), {"agentId": str(agent.pk)}).json()["conversations"]
        assert [item["id"] for item in filtered] == [str(mine.pk)]
        assert filtered[0]["agent"] == {
            "id": str(agent.pk),
            "nameEs": "Asistente de Redacción",
            "nameEn": "Writing Assistant",
        }

    def test_a_conversation_shows_its_owner_agent_and_message_count(self, user_client, user, agent):
        conversation = make_conversation(user=user, bot=agent)
        make_exchange(conversation=conversation)
        response = user_client.get(url(f"conversations/{conversation.pk}"))
        assert response.status_code == 200
        body = response.json()
        assert_shape(body, {**CONVERSATION_SHAPE, "userId": str, "agentId": str, "lastMessageAt": str})
        assert (body["userId"], body["agentId"], body["messageCount"]) == (str(user.pk), str(agent.pk), 2)

    def test_renaming_a_conversation_saves_the_title(self, user_client, user, agent):
        conversation = make_conversation(user=user, bot=agent)
        response = user_client.put(
            url(f"conversations/{conversation.pk}/title"), {"title": "Nuevo título"}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["title"] == "Nuevo título"
        conversation.refresh_from_db()
        assert conversation.title == "Nuevo título"

    def test_rename_needs_a_title(self, user_client, user, agent):
        conversation = make_conversation(user=user, bot=agent)
        assert_error(
            user_client.put(url(f"conversations/{conversation.pk}/title"), {"title": ""}, format="json"), 400
        )

    def test_deleting_a_conversation_removes_it(self, user_client, user, agent):
        conversation = make_conversation(user=user, bot=agent)
        response = user_client.delete(url(f"conversations/{conversation.pk}"))
        assert response.status_code == 200
        assert response.json() == {"message": "Conversation deleted successfully"}
        assert not Conversation.objects.filter(pk=conversation.pk).exists()

    def test_another_users_conversation_is_a_404_everywhere(self, other_client, user, agent):
        conversation = make_conversation(user=user, bot=agent, title="Mía")
        assert_error(other_client.get(url(f"conversations/{conversation.pk}")), 404)
        assert_error(
            other_client.put(url(f"conversations/{conversation.pk}/title"), {"title": "x"}, format="json"),
            404,
        )
        assert_error(other_client.delete(url(f"conversations/{conversation.pk}")), 404)
        assert_error(other_client.get(url(f"messages/{conversation.pk}")), 404)
        assert_error(
            other_client.post(url(f"messages/{conversation.pk}"), {"content": "hola"}, format="json"), 404
        )
        assert other_client.get(url("conversations")).json() == {"conversations": []}
        conversation.refresh_from_db()
        assert conversation.title == "Mía"
        assert not Message.objects.filter(conversation=conversation).exists()

    def test_a_malformed_id_is_a_404(self, user_client):
        assert_error(user_client.get(url("conversations/not-a-uuid")), 404)


# --- Messages ----------------------------------------------------------------------------
class TestMessages:
    def test_send_a_message(self, user_client, user, local_agent):
        conversation = make_conversation(user=user, bot=local_agent)
        response = user_client.post(
            url(f"messages/{conversation.pk}"),
            {"content": "Ayúdame a escribir un email profesional"},
            format="json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert_shape(body, {"userMessage": MESSAGE_SHAPE, "assistantMessage": MESSAGE_SHAPE})
        assert body["userMessage"]["role"] == "USER"
        assert body["userMessage"]["content"] == "Ayúdame a escribir un email profesional"
        assert body["assistantMessage"]["role"] == "ASSISTANT"
        assert body["assistantMessage"]["content"]
        stored = list(Message.objects.filter(conversation=conversation).values_list("id", "role"))
        assert stored == [
            (uuid.UUID(body["userMessage"]["id"]), "user"),
            (uuid.UUID(body["assistantMessage"]["id"]), "assistant"),
        ]

    def test_the_message_limit_is_a_400(self, user_client, user, local_agent):
        user.plan = Plan.objects.create(name="Short", max_messages_per_conversation=2)
        user.save()
        conversation = make_conversation(user=user, bot=local_agent)
        assert (
            user_client.post(
                url(f"messages/{conversation.pk}"), {"content": "uno"}, format="json"
            ).status_code
            == 201
        )
        response = user_client.post(url(f"messages/{conversation.pk}"), {"content": "dos"}, format="json")
        assert_error(response, 400)
        assert Message.objects.filter(conversation=conversation).count() == 2

    def test_an_unknown_conversation_is_a_404(self, user_client):
        assert_error(
            user_client.post(url(f"messages/{uuid.uuid4()}"), {"content": "hola"}, format="json"), 404
        )

    def test_an_empty_message_is_a_400(self, user_client, user, local_agent):
        conversation = make_conversation(user=user, bot=local_agent)
        assert_error(
            user_client.post(url(f"messages/{conversation.pk}"), {"content": "  "}, format="json"), 400
        )
        assert_error(user_client.post(url(f"messages/{conversation.pk}"), {}, format="json"), 400)

    def test_sending_needs_a_token(self, api_client, user, local_agent):
        conversation = make_conversation(user=user, bot=local_agent)
        assert_error(
            api_client.post(url(f"messages/{conversation.pk}"), {"content": "hola"}, format="json"), 401
        )

    def test_list_with_limit_offset_and_total(self, user_client, user, agent):
        conversation = make_conversation(user=user, bot=agent)
        for _ in range(3):
            make_exchange(conversation=conversation)
        response = user_client.get(url(f"messages/{conversation.pk}"))
        assert response.status_code == 200
        body = response.json()
        assert_shape(body, {"messages": list, "total": int, "limit": int, "offset": int})
        assert (body["total"], body["limit"], body["offset"], len(body["messages"])) == (6, 50, 0, 6)
        for item in body["messages"]:
            assert_shape(item, MESSAGE_SHAPE)
        roles = [item["role"] for item in body["messages"]]
        assert sorted(roles) == ["ASSISTANT"] * 3 + ["USER"] * 3

        page = user_client.get(url(f"messages/{conversation.pk}"), {"limit": 2, "offset": 3}).json()
        assert (page["total"], page["limit"], page["offset"]) == (6, 2, 3)
        assert [item["id"] for item in page["messages"]] == [item["id"] for item in body["messages"][3:5]]

    def test_a_bad_limit_is_a_400(self, user_client, user, agent):
        conversation = make_conversation(user=user, bot=agent)
        assert_error(user_client.get(url(f"messages/{conversation.pk}"), {"limit": 0}), 400)
        assert_error(user_client.get(url(f"messages/{conversation.pk}"), {"offset": -1}), 400)


# --- Admin -------------------------------------------------------------------------------
class TestAdminStats:
    @pytest.fixture
    def activity(self, user, other_user, agent, local_agent):
        for _ in range(2):
            make_exchange(conversation=make_conversation(user=user, bot=agent))
        make_exchange(conversation=make_conversation(user=other_user, bot=local_agent))

    def test_the_overview_counts_users_conversations_messages_and_the_most_used_agent(
        self, admin_client_api, activity, agent
    ):
        response = admin_client_api.get(url("admin/stats/overview"))
        assert response.status_code == 200
        body = response.json()
        assert_shape(
            body,
            {
                "totalUsers": int,
                "activeUsers": int,
                "totalConversations": int,
                "totalMessages": int,
                "mostUsedAgent": {"id": str, "nameEs": str, "nameEn": str, "usageCount": int},
            },
        )
        assert (
            body["totalUsers"],
            body["activeUsers"],
            body["totalConversations"],
            body["totalMessages"],
        ) == (
            3,
            2,
            3,
            6,
        )
        assert body["mostUsedAgent"] == {
            "id": str(agent.pk),
            "nameEs": "Asistente de Redacción",
            "nameEn": "Writing Assistant",
            "usageCount": 2,
        }

    def test_the_user_stats_count_each_users_conversations(self, admin_client_api, activity, user):
        response = admin_client_api.get(url("admin/stats/users"))
        assert response.status_code == 200
        users = response.json()["users"]
        for item in users:
            assert_shape(
                item,
                {
                    "id": str,
                    "email": str,
                    "fullName": str,
                    "conversationCount": int,
                    "isActive": bool,
                    "createdAt": str,
                },
            )
        counts = {item["email"]: item["conversationCount"] for item in users}
        assert counts == {"alice@example.com": 2, "bob@example.com": 1, "admin@example.com": 0}

    def test_the_agent_stats_count_each_agents_conversations(self, admin_client_api, activity, agent):
        response = admin_client_api.get(url("admin/stats/agents"))
        assert response.status_code == 200
        agents = response.json()["agents"]
        for item in agents:
            assert_shape(
                item,
                {
                    "id": str,
                    "nameEs": str,
                    "nameEn": str,
                    "categoryName": str,
                    "conversationCount": int,
                    "aiProvider": str,
                },
            )
        assert agents[0] == {
            "id": str(agent.pk),
            "nameEs": "Asistente de Redacción",
            "nameEn": "Writing Assistant",
            "categoryName": "Redacción y Contenido",
            "conversationCount": 2,
            "aiProvider": "OPENAI",
        }

    def test_a_manager_reads_them(self, manager_client):
        for path in ("admin/stats/overview", "admin/stats/users", "admin/stats/agents"):
            assert manager_client.get(url(path)).status_code == 200

    def test_a_user_may_not(self, user_client):
        for path in ("admin/stats/overview", "admin/stats/users", "admin/stats/agents"):
            assert_error(user_client.get(url(path)), 403)


# --- Errors outside the views ------------------------------------------------------------
def test_an_unknown_path_answers_in_magicais_format(user_client):
    assert_error(user_client.get(url("nothing-here")), 404)


def test_a_wrong_method_answers_in_magicais_format(user_client, user, agent):
    conversation = make_conversation(user=user, bot=agent)
    assert_error(user_client.delete(url(f"messages/{conversation.pk}")), 405)


def test_a_suspended_users_token_stops_working(api_client, user, client_for):
    client: APIClient = client_for(user)
    user.status = "suspended"
    user.save()
    assert_error(client.get(url("users/me")), 401)

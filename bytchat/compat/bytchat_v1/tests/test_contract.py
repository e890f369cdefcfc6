"""Every endpoint of bytchat-api-v1.2.1.md and bytchat-platform-v1.4.0.md, with the
documents' example requests, through the v1 mount."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.models import User
from bots.models import Bot, Document, ModelConfig
from bots.tests.factories import make_bot
from bytchat.compat.bytchat_v1.tests.helpers import log_in, token_for, v1, v1_chat
from chat.models import Conversation, Message
from chat.tests.helpers import add_knowledge

pytestmark = pytest.mark.django_db

HANDBOOK = (
    "Refund policy. Customers may ask for a refund within 30 days of purchase. "
    "Refunds are paid back to the original card within five working days."
)
MODEL_CONFIG_KEYS = {"id", "task_type", "provider", "model_id"}


def assert_detail(response, status: int) -> str:
    """v1's error body: `{"detail": "..."}` and nothing else."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail"}
    assert isinstance(body["detail"], str) and body["detail"]
    return body["detail"]


def assert_bot(body: dict) -> None:
    assert isinstance(body["id"], str)
    assert isinstance(body["name"], str) and isinstance(body["description"], str)
    assert isinstance(body["system_prompt"], str)
    assert isinstance(body["model_configs"], list)
    for config in body["model_configs"]:
        assert set(config) >= MODEL_CONFIG_KEYS


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def alice_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


@pytest.fixture
def bob_client(other_user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(other_user)}")
    return client


@pytest.fixture
def alice_bot(user):
    bot = make_bot(owner=user)
    add_knowledge(bot, "handbook.txt", HANDBOOK)
    return bot


@pytest.fixture
def platform_bot(db):
    return make_bot(owner=None, is_public=True, name_en="Public helper")


# --- Root --------------------------------------------------------------------------------
class TestRoot:
    def test_it_welcomes_with_the_current_version(self, client):
        response = client.get("/")
        assert response.status_code == 200
        body = response.json()
        assert isinstance(body["message"], str) and body["message"]
        assert isinstance(body["version"], str) and body["version"]


# --- POST /token -------------------------------------------------------------------------
class TestToken:
    def test_the_form_login_returns_a_bearer_access_token(self, client, user):
        response = log_in(client, "alice@example.com")
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"access_token", "token_type"}
        assert isinstance(body["access_token"], str) and body["token_type"] == "bearer"
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
        assert client.get(v1("bots/")).status_code == 200

    def test_a_wrong_password_and_an_unknown_email_read_the_same(self, client, user):
        wrong_password = log_in(client, "alice@example.com", "not-the-password")
        unknown_email = log_in(client, "nobody@example.com", "not-the-password")
        assert assert_detail(wrong_password, 401) == assert_detail(unknown_email, 401)
        assert wrong_password["WWW-Authenticate"] == "Bearer"

    def test_a_missing_password_names_the_field(self, client):
        response = client.post(v1("token"), {"username": "alice@example.com"}, format="multipart")
        assert "password" in assert_detail(response, 400)

    def test_repeated_failures_are_throttled(self, client, user, settings):
        for _ in range(settings.LOGIN_FAILURE_LIMIT):
            assert log_in(client, "alice@example.com", "not-the-password").status_code == 401
        response = log_in(client, "alice@example.com")
        assert_detail(response, 429)
        assert int(response["Retry-After"]) > 0

    def test_a_suspended_account_gets_no_token(self, client, user):
        user.status = "suspended"
        user.save(update_fields=["status"])
        assert_detail(log_in(client, "alice@example.com"), 403)


# --- POST /users/ ------------------------------------------------------------------------
class TestUsers:
    EXAMPLE = {"email": "nuevo.usuario@ejemplo.com", "password": "una-clave-segura"}

    def test_it_creates_the_user_and_returns_it_without_the_password(self, client):
        response = client.post(v1("users/"), self.EXAMPLE, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"email", "id", "is_active", "bots"}
        assert body["email"] == "nuevo.usuario@ejemplo.com"
        assert isinstance(body["id"], str) and body["is_active"] is True and body["bots"] == []
        user = User.objects.get(email="nuevo.usuario@ejemplo.com")
        assert str(user.pk) == body["id"] and user.check_password("una-clave-segura")
        assert log_in(client, "nuevo.usuario@ejemplo.com", "una-clave-segura").status_code == 200

    def test_an_email_already_registered_is_refused(self, client, user):
        response = client.post(v1("users/"), {**self.EXAMPLE, "email": "alice@example.com"}, format="json")
        assert "email" in assert_detail(response, 400)

    def test_a_weak_password_is_refused(self, client):
        response = client.post(v1("users/"), {**self.EXAMPLE, "password": "123"}, format="json")
        assert "password" in assert_detail(response, 400)
        assert not User.objects.filter(email="nuevo.usuario@ejemplo.com").exists()

    def test_closed_registration_refuses_strangers(self, client, settings):
        settings.REGISTRATION_OPEN = False
        response = client.post(v1("users/"), self.EXAMPLE, format="json")
        assert response.status_code in (401, 403)
        assert_detail(response, response.status_code)
        assert not User.objects.filter(email="nuevo.usuario@ejemplo.com").exists()


# --- /bots/ ------------------------------------------------------------------------------
class TestBots:
    def test_the_v1_2_1_example_creates_a_bot_with_the_offline_model(self, alice_client, user):
        response = alice_client.post(
            v1("bots/"), {"name": "Mi Nuevo Asistente", "description": "Un bot para pruebas."}, format="json"
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert_bot(body)
        assert body["name"] == "Mi Nuevo Asistente" and body["description"] == "Un bot para pruebas."
        assert [config["provider"] for config in body["model_configs"]] == ["local"]
        assert Bot.objects.get(pk=body["id"]).owner == user

    def test_the_v1_4_0_example_creates_its_initial_configs(self, alice_client):
        response = alice_client.post(
            v1("bots/"),
            {
                "name": "Mi Nuevo Asistente",
                "description": "Un bot para pruebas.",
                "initial_configs": [
                    {"task_type": "general", "provider": "google", "model_id": "gemini-1.5-flash-latest"}
                ],
            },
            format="json",
        )
        assert response.status_code == 200, response.content
        configs = response.json()["model_configs"]
        assert [(c["task_type"], c["provider"], c["model_id"]) for c in configs] == [
            ("general", "gemini", "gemini-1.5-flash-latest")
        ]

    def test_a_bot_needs_a_name(self, alice_client):
        assert "name" in assert_detail(
            alice_client.post(v1("bots/"), {"description": "x"}, format="json"), 400
        )

    def test_an_unknown_provider_is_refused(self, alice_client):
        response = alice_client.post(
            v1("bots/"),
            {"name": "X", "initial_configs": [{"provider": "acme", "model_id": "m"}]},
            format="json",
        )
        assert "provider" in assert_detail(response, 400)
        assert not Bot.objects.exists()

    def test_the_plan_limit_on_bots_holds(self, alice_client, user):
        from accounts.models import Plan

        user.plan = Plan.objects.create(name="One bot", max_bots=1)
        user.save(update_fields=["plan"])
        assert alice_client.post(v1("bots/"), {"name": "First"}, format="json").status_code == 200
        assert_detail(alice_client.post(v1("bots/"), {"name": "Second"}, format="json"), 409)

    def test_the_list_has_only_the_users_own_bots(self, alice_client, alice_bot, other_user, platform_bot):
        make_bot(owner=other_user, name_en="Bob's")
        response = alice_client.get(v1("bots/"))
        assert response.status_code == 200
        body = response.json()
        assert isinstance(body, list) and [bot["id"] for bot in body] == [str(alice_bot.pk)]
        assert_bot(body[0])

    def test_bots_need_a_token(self, client):
        assert_detail(client.get(v1("bots/")), 401)
        assert_detail(client.post(v1("bots/"), {"name": "X"}, format="json"), 401)
        client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
        assert client.get(v1("bots/")).status_code == 401


class TestBotUpdate:
    EXAMPLE = {"system_prompt": "Ahora eres un robot pirata que habla como tal."}

    def test_the_example_changes_the_system_prompt(self, alice_client, alice_bot):
        response = alice_client.put(v1(f"bots/{alice_bot.pk}"), self.EXAMPLE, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert_bot(body)
        assert body["system_prompt"] == self.EXAMPLE["system_prompt"] and body["name"] == "Helper"
        alice_bot.refresh_from_db()
        assert alice_bot.system_prompt == self.EXAMPLE["system_prompt"]

    def test_it_hides_another_users_bot(self, bob_client, alice_bot):
        assert_detail(bob_client.put(v1(f"bots/{alice_bot.pk}"), self.EXAMPLE, format="json"), 404)
        alice_bot.refresh_from_db()
        assert alice_bot.system_prompt != self.EXAMPLE["system_prompt"]

    def test_a_platform_bot_can_be_used_but_not_changed(self, alice_client, platform_bot):
        assert_detail(alice_client.put(v1(f"bots/{platform_bot.pk}"), self.EXAMPLE, format="json"), 403)

    def test_an_id_that_is_no_bot_is_a_404(self, alice_client):
        assert_detail(alice_client.put(v1("bots/1"), self.EXAMPLE, format="json"), 404)


class TestModels:
    EXAMPLE = {"provider": "openai", "model_id": "gpt-4o", "task_type": "complex"}

    def test_the_example_adds_a_model_to_the_toolbox(self, alice_client, alice_bot):
        response = alice_client.post(v1(f"bots/{alice_bot.pk}/models/"), self.EXAMPLE, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) >= MODEL_CONFIG_KEYS and isinstance(body["id"], str)
        assert (body["provider"], body["model_id"], body["task_type"]) == ("openai", "gpt-4o", "complex")
        assert alice_bot.model_configs.filter(provider="openai", model_id="gpt-4o").exists()

    def test_an_unknown_task_type_is_refused(self, alice_client, alice_bot):
        response = alice_client.post(
            v1(f"bots/{alice_bot.pk}/models/"), {**self.EXAMPLE, "task_type": "poetry"}, format="json"
        )
        assert "task_type" in assert_detail(response, 400)

    def test_it_hides_another_users_bot(self, bob_client, alice_bot):
        assert_detail(bob_client.post(v1(f"bots/{alice_bot.pk}/models/"), self.EXAMPLE, format="json"), 404)
        assert not ModelConfig.objects.filter(provider="openai").exists()


class TestTrain:
    def test_a_text_file_is_stored_then_indexed_in_the_background(
        self, alice_client, alice_bot, django_capture_on_commit_callbacks
    ):
        upload = SimpleUploadedFile("faq.txt", b"Shipping takes three days.", content_type="text/plain")
        with django_capture_on_commit_callbacks(execute=True):
            response = alice_client.post(
                v1(f"bots/{alice_bot.pk}/train"), {"file": upload}, format="multipart"
            )
        assert response.status_code == 200, response.content
        body = response.json()
        assert isinstance(body["id"], str) and body["name"] == "faq.txt"
        # Answered before indexing: the task runs once the upload is committed.
        assert body["status"] == "pending"
        document = Document.objects.get(pk=body["id"])
        assert document.status == "ready" and document.chunk_count >= 1

    def test_the_upload_needs_a_file(self, alice_client, alice_bot):
        response = alice_client.post(v1(f"bots/{alice_bot.pk}/train"), {}, format="multipart")
        assert "file" in assert_detail(response, 400)

    def test_an_empty_file_is_refused(self, alice_client, alice_bot):
        upload = SimpleUploadedFile("empty.txt", b"", content_type="text/plain")
        response = alice_client.post(v1(f"bots/{alice_bot.pk}/train"), {"file": upload}, format="multipart")
        assert_detail(response, 400)

    def test_it_hides_another_users_bot(self, bob_client, alice_bot):
        upload = SimpleUploadedFile("faq.txt", b"Shipping takes three days.", content_type="text/plain")
        response = bob_client.post(v1(f"bots/{alice_bot.pk}/train"), {"file": upload}, format="multipart")
        assert_detail(response, 404)
        assert not Document.objects.filter(original_name="faq.txt").exists()


# --- POST /chat/{bot_id} -----------------------------------------------------------------
class TestChat:
    def test_the_json_body_streams_the_answer_as_text(self, user, alice_bot):
        answer = v1_chat(
            token_for(user), alice_bot.pk, body={"query": "How many days do I have for a refund?"}
        )
        assert answer.status == 200, answer.text
        assert answer.headers["content-type"].startswith("text/plain")
        assert answer.headers["cache-control"] == "no-cache"
        assert "30 days" in answer.text
        conversation = Conversation.objects.get(pk=answer.headers["x-conversation-id"])
        stored = Message.objects.get(conversation=conversation, role="assistant")
        assert stored.content == answer.text and stored.status == "complete"

    def test_the_query_in_the_url_works_as_in_v1_2_1(self, user, alice_bot):
        answer = v1_chat(token_for(user), alice_bot.pk, query="How many days do I have for a refund?")
        assert answer.status == 200, answer.text
        assert "30 days" in answer.text

    def test_each_question_is_a_conversation_of_its_own(self, user, alice_bot):
        first = v1_chat(token_for(user), alice_bot.pk, body={"query": "Refunds?"})
        second = v1_chat(token_for(user), alice_bot.pk, body={"query": "Refunds again?"})
        assert first.headers["x-conversation-id"] != second.headers["x-conversation-id"]
        assert Conversation.objects.filter(user=user, bot=alice_bot).count() == 2

    def test_at_the_plans_limit_per_bot_the_oldest_conversation_goes_unasked(self, user, alice_bot):
        from accounts.models import Plan

        user.plan = Plan.objects.create(name="One per bot", max_conversations_per_bot=1)
        user.save()
        first = v1_chat(token_for(user), alice_bot.pk, body={"query": "Refunds?"})
        second = v1_chat(token_for(user), alice_bot.pk, body={"query": "Refunds again?"})
        assert (first.status, second.status) == (200, 200), second.text
        kept = Conversation.objects.filter(user=user, bot=alice_bot).values_list("pk", flat=True)
        assert [str(pk) for pk in kept] == [second.headers["x-conversation-id"]]

    def test_a_public_platform_bot_answers_too(self, user, platform_bot):
        assert v1_chat(token_for(user), platform_bot.pk, body={"query": "Hello?"}).status == 200

    def test_a_missing_query_is_refused(self, user, alice_bot):
        answer = v1_chat(token_for(user), alice_bot.pk, body={})
        assert answer.status == 400 and set(answer.json()) == {"detail"}
        assert "query" in answer.json()["detail"]
        assert v1_chat(token_for(user), alice_bot.pk).status == 400

    def test_a_blank_query_is_refused(self, user, alice_bot):
        answer = v1_chat(token_for(user), alice_bot.pk, body={"query": "   "})
        assert answer.status == 400 and isinstance(answer.json()["detail"], str)
        assert not Message.objects.exists()

    def test_it_needs_a_token(self, alice_bot):
        answer = v1_chat(None, alice_bot.pk, body={"query": "Refunds?"})
        assert answer.status == 401 and set(answer.json()) == {"detail"}
        assert answer.headers["www-authenticate"] == "Bearer"

    def test_it_hides_another_users_bot(self, other_user, alice_bot):
        answer = v1_chat(token_for(other_user), alice_bot.pk, body={"query": "Refunds?"})
        assert answer.status == 404 and set(answer.json()) == {"detail"}
        assert not Message.objects.exists()

    def test_no_model_answering_is_a_502_before_the_stream(self, user, settings):
        settings.MODEL_BASE_URL_ALLOWED_HOSTS = ["127.0.0.1:9"]  # a port no server listens on
        bot = make_bot(
            owner=user,
            configs=[{"provider": "openai_compatible", "model_id": "x", "base_url": "http://127.0.0.1:9/v1"}],
        )
        answer = v1_chat(token_for(user), bot.pk, body={"query": "Refunds?"})
        assert answer.status == 502 and set(answer.json()) == {"detail"}
        # The question is kept, and the failed run recorded, as on every surface.
        assert Message.objects.filter(role="user").count() == 1

    def test_the_plan_message_rate_holds(self, user, alice_bot):
        from accounts.models import Plan

        user.plan = Plan.objects.create(name="Slow", messages_per_minute=1)
        user.save(update_fields=["plan"])
        assert v1_chat(token_for(user), alice_bot.pk, body={"query": "Refunds?"}).status == 200
        answer = v1_chat(token_for(user), alice_bot.pk, body={"query": "Refunds?"})
        assert answer.status == 429 and int(answer.headers["retry-after"]) > 0
        assert set(answer.json()) == {"detail"}

    def test_only_post_is_allowed(self, alice_client, alice_bot):
        assert_detail(alice_client.get(v1(f"chat/{alice_bot.pk}")), 405)

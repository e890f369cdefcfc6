"""escombot-api.md, endpoint by endpoint: the document's example requests, every documented
key and its JSON type, and the documented errors, through the mount."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core import signing
from django.test import Client

from accounts.models import Plan, UserStatus
from accounts.tests.factories import make_user
from bots.tests.factories import make_bot
from bytchat.compat.escombot.auth import COOKIE_NAME
from bytchat.compat.escombot.tests.helpers import EMAIL, PASSWORD, create_chat, login, url
from bytchat.compat.escombot.throttles import MessageThrottle
from chat.models import Conversation, Message
from chat.services.conversations import AtLimit, conversation_create

pytestmark = pytest.mark.django_db

SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CHAT_ID = "550e8400-e29b-41d4-a716-446655440000"
DOC_QUESTION = "¿Cuál es el procedimiento para obtener una constancia?"


def post_json(client: Client, path: str, body) -> object:
    return client.post(url(path), body, content_type="application/json")


def assert_error(response, status: int, message: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"error": message}


def assert_uuid(value) -> None:
    assert isinstance(value, str)
    uuid.UUID(value)


def assert_chat(chat: dict) -> None:
    assert set(chat) == {"id", "title", "createdAt", "updatedAt"}
    assert_uuid(chat["id"])
    assert isinstance(chat["title"], str)
    assert SECONDS.match(chat["createdAt"]) and SECONDS.match(chat["updatedAt"])


def assert_message(message: dict, *, listed: bool) -> None:
    keys = {"id", "role", "content", "timestamp", "chatId"} | ({"createdAt"} if listed else set())
    assert set(message) == keys
    assert_uuid(message["id"])
    assert_uuid(message["chatId"])
    assert message["role"] in {"bot", "user"}
    assert isinstance(message["content"], str)
    assert MILLIS.match(message["timestamp"])
    if listed:
        assert SECONDS.match(message["createdAt"])


class TestLogin:
    def test_it_answers_the_user_and_sets_a_signed_httponly_session_cookie(self, doc_user, escombot):
        client = Client()
        response = login(client)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/json")
        user = response.json()["user"]
        assert user == {
            "id": str(doc_user.pk),
            "email": EMAIL,
            "firstName": "Usuario",
            "lastName": "Prueba",
            "username": "test",
        }
        assert "password" not in response.content.decode()
        cookie = response.cookies[COOKIE_NAME]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
        assert cookie["max-age"] == 604800
        assert not cookie["secure"]
        # Not the raw id the document had: a signed token nobody can forge.
        assert cookie.value != str(doc_user.pk)
        assert signing.loads(cookie.value, salt="bytchat.compat.escombot.session")["id"] == str(doc_user.pk)

    def test_the_cookie_is_secure_over_https(self, doc_user, escombot):
        response = Client().post(
            url("login"), {"email": EMAIL, "password": PASSWORD}, content_type="application/json", secure=True
        )
        assert response.status_code == 200
        assert response.cookies[COOKIE_NAME]["secure"] is True

    def test_an_unknown_email_and_a_wrong_password_get_the_same_401(self, doc_user):
        unknown = login(Client(), "nadie@example.com", PASSWORD)
        wrong = login(Client(), EMAIL, "incorrecta")
        assert_error(unknown, 401, "Email o contraseña incorrectos")
        assert_error(wrong, 401, "Email o contraseña incorrectos")
        assert COOKIE_NAME not in unknown.cookies and COOKIE_NAME not in wrong.cookies

    def test_missing_credentials_are_a_400(self, doc_user):
        assert_error(post_json(Client(), "login", {"email": EMAIL}), 400, "email y password son requeridos")

    def test_a_suspended_account_cannot_log_in(self, doc_user):
        doc_user.status = UserStatus.SUSPENDED
        doc_user.save()
        assert_error(login(Client()), 403, "Cuenta suspendida")

    def test_a_form_post_is_refused_with_415(self, doc_user):
        response = Client().post(url("login"), {"email": EMAIL, "password": PASSWORD})
        assert_error(response, 415, "Content-Type debe ser application/json")
        assert COOKIE_NAME not in response.cookies

    def test_the_sixth_attempt_in_15_minutes_from_one_ip_is_a_429(self, doc_user):
        client = Client()
        for _ in range(5):
            assert login(client).status_code == 200
        response = login(client)
        assert_error(response, 429, "Demasiadas solicitudes, intenta más tarde")
        assert 0 < int(response["Retry-After"]) <= 15 * 60
        # Another address still may.
        assert login(Client(REMOTE_ADDR="10.0.0.2")).status_code == 200


class TestSession:
    def test_no_cookie_is_401(self, escombot):
        assert_error(Client().get(url("chats")), 401, "No autenticado")

    def test_the_documents_raw_user_id_cookie_is_refused(self, doc_user, escombot):
        client = Client()
        client.cookies[COOKIE_NAME] = str(doc_user.pk)
        assert_error(client.get(url("chats")), 401, "No autenticado")

    def test_a_tampered_cookie_is_refused(self, client_logged_in):
        other = make_user(email="victima@example.com")
        value = client_logged_in.cookies[COOKIE_NAME].value
        client_logged_in.cookies[COOKIE_NAME] = value[:-1] + ("A" if value[-1] != "A" else "B")
        assert_error(client_logged_in.get(url("chats")), 401, "No autenticado")
        forged = signing.dumps({"id": str(other.pk), "hash": ""}, salt="another-salt")
        client_logged_in.cookies[COOKIE_NAME] = forged
        assert_error(client_logged_in.get(url("chats")), 401, "No autenticado")

    def test_the_cookie_expires_after_7_days(self, client_logged_in, monkeypatch):
        import time

        now = time.time()
        monkeypatch.setattr("django.core.signing.time.time", lambda: now + 7 * 24 * 3600 + 5)
        assert_error(client_logged_in.get(url("chats")), 401, "No autenticado")

    def test_a_password_change_ends_the_session(self, client_logged_in, doc_user):
        assert client_logged_in.get(url("chats")).status_code == 200
        doc_user.set_password("otra-contraseña-larga")
        doc_user.save()
        assert_error(client_logged_in.get(url("chats")), 401, "No autenticado")

    def test_a_suspension_ends_the_session(self, client_logged_in, doc_user):
        doc_user.status = UserStatus.SUSPENDED
        doc_user.save()
        assert_error(client_logged_in.get(url("chats")), 401, "No autenticado")


class TestChats:
    def test_it_lists_the_users_chats_newest_first(self, client_logged_in):
        first = create_chat(client_logged_in, "¿Cómo inscribirse?")
        second = create_chat(client_logged_in, "Información de constancias")
        response = client_logged_in.get(url("chats"))
        assert response.status_code == 200
        chats = response.json()["chats"]
        assert [chat["id"] for chat in chats] == [second["id"], first["id"]]
        for chat in chats:
            assert_chat(chat)

    def test_it_creates_a_chat_with_the_documents_request(self, client_logged_in, doc_user, escombot):
        response = post_json(client_logged_in, "chats", {"title": "Mi primera pregunta"})
        assert response.status_code == 201
        chat = response.json()["chat"]
        assert_chat(chat)
        assert chat["title"] == "Mi primera pregunta"
        stored = Conversation.objects.get(pk=chat["id"])
        assert stored.user == doc_user and stored.bot == escombot

    @pytest.mark.parametrize("body", [{}, {"title": ""}, {"title": "   "}, {"titulo": "x"}])
    def test_a_chat_without_a_title_is_a_400(self, client_logged_in, body):
        assert_error(post_json(client_logged_in, "chats", body), 400, "El título es requerido")
        assert not Conversation.objects.exists()

    def test_creating_needs_a_session(self, escombot):
        assert_error(post_json(Client(), "chats", {"title": "x"}), 401, "No autenticado")

    def test_a_cookie_authenticated_form_post_is_refused_as_csrf(self, client_logged_in):
        response = client_logged_in.post(url("chats"), {"title": "Ataque"})
        assert_error(response, 415, "Content-Type debe ser application/json")
        response = client_logged_in.post(url("chats"), "title=Ataque", content_type="text/plain")
        assert_error(response, 415, "Content-Type debe ser application/json")
        assert not Conversation.objects.exists()

    def test_the_101st_chat_of_a_day_is_a_429(self, client_logged_in, doc_user):
        doc_user.plan = Plan.objects.create(name="Sin límites")  # the plan's own limits aside
        doc_user.save()
        for number in range(100):
            create_chat(client_logged_in, f"Chat {number}")
        response = post_json(client_logged_in, "chats", {"title": "Uno más"})
        assert_error(response, 429, "Demasiadas solicitudes, intenta más tarde")
        assert int(response["Retry-After"]) > 0
        assert Conversation.objects.count() == 100
        assert client_logged_in.get(url("chats")).status_code == 200  # reading is not limited

    def test_it_does_not_list_another_users_chats(self, client_logged_in, other_browser):
        create_chat(other_browser, "Privado")
        assert client_logged_in.get(url("chats")).json() == {"chats": []}


class TestChatMessages:
    def test_it_lists_the_messages_with_the_documents_roles(self, client_logged_in):
        chat = create_chat(client_logged_in)
        sent = post_json(client_logged_in, "messages", {"chatId": chat["id"], "message": DOC_QUESTION})
        assert sent.status_code == 201
        response = client_logged_in.get(url(f"chats/{chat['id']}/messages"))
        assert response.status_code == 200
        messages = response.json()["messages"]
        assert [message["role"] for message in messages] == ["user", "bot"]
        assert messages[0]["content"] == DOC_QUESTION
        for message in messages:
            assert_message(message, listed=True)
            assert message["chatId"] == chat["id"]
        assert Message.objects.filter(role="assistant").count() == 1  # stored as `assistant`

    def test_a_new_chat_has_no_messages(self, client_logged_in):
        chat = create_chat(client_logged_in)
        assert client_logged_in.get(url(f"chats/{chat['id']}/messages")).json() == {"messages": []}

    @pytest.mark.parametrize("chat_id", [CHAT_ID, "no-es-un-uuid"])
    def test_an_unknown_chat_is_a_404(self, client_logged_in, chat_id):
        assert_error(client_logged_in.get(url(f"chats/{chat_id}/messages")), 404, "Chat no encontrado")

    def test_another_users_chat_is_a_404(self, client_logged_in, other_browser):
        chat = create_chat(other_browser, "Privado")
        assert_error(client_logged_in.get(url(f"chats/{chat['id']}/messages")), 404, "Chat no encontrado")

    def test_a_conversation_with_another_bot_is_not_an_escombot_chat(self, client_logged_in, doc_user):
        own_bot = make_bot(owner=doc_user)
        conversation = conversation_create(
            user=doc_user, bot=own_bot, title="Otro bot", at_limit=AtLimit.REFUSE
        )
        response = client_logged_in.get(url(f"chats/{conversation.pk}/messages"))
        assert_error(response, 404, "Chat no encontrado")
        assert client_logged_in.get(url("chats")).json() == {"chats": []}

    def test_reading_needs_a_session(self, client_logged_in):
        chat = create_chat(client_logged_in)
        assert_error(Client().get(url(f"chats/{chat['id']}/messages")), 401, "No autenticado")


class TestMessages:
    def test_it_stores_the_question_and_answers_with_the_full_bot_reply(self, client_logged_in):
        chat = create_chat(client_logged_in)
        response = post_json(client_logged_in, "messages", {"chatId": chat["id"], "message": DOC_QUESTION})
        assert response.status_code == 201, response.content
        assert response["Content-Type"].startswith("application/json")
        body = response.json()
        assert set(body) == {"userMessage", "botMessage"}
        user_message, bot_message = body["userMessage"], body["botMessage"]
        assert_message(user_message, listed=False)
        assert_message(bot_message, listed=False)
        assert user_message["role"] == "user" and user_message["content"] == DOC_QUESTION
        assert bot_message["role"] == "bot" and "constancia" in bot_message["content"].lower()
        assert user_message["chatId"] == bot_message["chatId"] == chat["id"]
        stored = Message.objects.get(pk=bot_message["id"])
        assert stored.content == bot_message["content"] and stored.role == "assistant"

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"chatId": "CHAT"},
            {"message": "Hola"},
            {"chatId": "", "message": "Hola"},
            {"chatId": "CHAT", "message": "  "},
        ],
    )
    def test_a_missing_chat_id_or_message_is_a_400(self, client_logged_in, body):
        chat = create_chat(client_logged_in)
        body = {key: chat["id"] if value == "CHAT" else value for key, value in body.items()}
        assert_error(post_json(client_logged_in, "messages", body), 400, "chatId y message son requeridos")
        assert not Message.objects.exists()

    @pytest.mark.parametrize("chat_id", [CHAT_ID, "no-es-un-uuid"])
    def test_an_unknown_chat_is_a_404(self, client_logged_in, chat_id):
        response = post_json(client_logged_in, "messages", {"chatId": chat_id, "message": "Hola"})
        assert_error(response, 404, "Chat no encontrado")

    def test_writing_in_another_users_chat_is_a_404(self, client_logged_in, other_browser):
        chat = create_chat(other_browser, "Privado")
        response = post_json(client_logged_in, "messages", {"chatId": chat["id"], "message": "Hola"})
        assert_error(response, 404, "Chat no encontrado")
        assert not Message.objects.exists()

    def test_sending_needs_a_session(self, client_logged_in):
        chat = create_chat(client_logged_in)
        response = post_json(Client(), "messages", {"chatId": chat["id"], "message": "Hola"})
        assert_error(response, 401, "No autenticado")

    def test_a_cookie_authenticated_form_post_is_refused_as_csrf(self, client_logged_in):
        chat = create_chat(client_logged_in)
        response = client_logged_in.post(url("messages"), {"chatId": chat["id"], "message": "Hola"})
        assert_error(response, 415, "Content-Type debe ser application/json")
        assert not Message.objects.exists()

    def test_malformed_json_is_a_400(self, client_logged_in):
        response = client_logged_in.post(url("messages"), "{no json", content_type="application/json")
        assert_error(response, 400, "JSON inválido")

    def test_a_failed_answer_is_the_documents_500(self, client_logged_in, escombot, settings):
        settings.MODEL_BASE_URL_ALLOWED_HOSTS = ["127.0.0.1:9"]  # a port no server listens on
        escombot.model_configs.all().delete()
        escombot.model_configs.create(
            provider="openai_compatible", model_id="x", base_url="http://127.0.0.1:9/v1"
        )
        chat = create_chat(client_logged_in)
        response = post_json(client_logged_in, "messages", {"chatId": chat["id"], "message": "Hola"})
        assert_error(response, 500, "Error al crear mensaje")

    def test_the_31st_message_in_a_minute_is_a_429(self, client_logged_in, doc_user):
        doc_user.plan = Plan.objects.create(name="Sin límites")  # the plan's own limits aside
        doc_user.save()
        chat = create_chat(client_logged_in)
        body = {"chatId": chat["id"], "message": "¿Cómo me inscribo?"}
        for _ in range(MessageThrottle.limit):
            assert post_json(client_logged_in, "messages", body).status_code == 201
        response = post_json(client_logged_in, "messages", body)
        assert_error(response, 429, "Demasiadas solicitudes, intenta más tarde")
        assert 0 < int(response["Retry-After"]) <= 60
        assert Message.objects.filter(role="user").count() == 30

    def test_messages_only_accepts_post(self, client_logged_in):
        assert_error(client_logged_in.get(url("messages")), 405, "Método no permitido")


def test_an_unknown_path_under_the_mount_answers_in_the_documents_format(escombot):
    assert_error(Client().get(url("usuarios")), 404, "No encontrado")

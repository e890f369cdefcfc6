"""champions-api.md, endpoint by endpoint: the document's example requests, every
documented key with its JSON type, the documented errors, and a second user who must not
see what is not theirs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Plan
from accounts.services import auth_tokens_issue
from accounts.tests.factories import PASSWORD, make_user
from analytics.tests.factories import make_conversation, make_exchange, rate
from bots.tests.factories import make_bot
from bytchat.compat.champions.tests.helpers import (
    LOAN_GUIDE,
    assert_error,
    is_timestamp,
    is_uuid,
    stream_chat,
    url,
)
from chat.models import Conversation, Feedback, Message
from chat.tests.helpers import add_knowledge

pytestmark = pytest.mark.django_db

DOMAIN = "championsfunding.com"


@pytest.fixture(autouse=True)
def _email_domain_policy(settings):
    settings.ALLOWED_EMAIL_DOMAINS = [DOMAIN]


@pytest.fixture
def rep(db):
    return make_user(email=f"usuario@{DOMAIN}")


@pytest.fixture
def other_rep(db):
    return make_user(email=f"otro@{DOMAIN}")


@pytest.fixture
def manager_user(db):
    return make_user(email=f"manager@{DOMAIN}", role="manager")


@pytest.fixture
def admin(db):
    return make_user(email=f"admin@{DOMAIN}", role="admin")


@pytest.fixture
def assistant(db):
    """The loan expert: a public platform agent, the default when a request names no bot."""
    bot = make_bot(owner=None, is_public=True, name_en="Loan Expert")
    add_knowledge(bot, "DSCR_Matrix.md", LOAN_GUIDE)
    return bot


@pytest.fixture
def rep_client(client_for, rep):
    return client_for(rep)


@pytest.fixture
def other_rep_client(client_for, other_rep):
    return client_for(other_rep)


@pytest.fixture
def manager_api(client_for, manager_user):
    return client_for(manager_user)


@pytest.fixture
def admin_api(client_for, admin):
    return client_for(admin)


def token(user) -> str:
    return auth_tokens_issue(user=user).access


@pytest.fixture
def exchange(rep, assistant):
    """A stored question and answer of `rep`, with a citation, as the engine writes them."""
    conversation = make_conversation(user=rep, bot=assistant, title="Requisitos DSCR")
    run = make_exchange(conversation=conversation, question="¿Cuáles son los requisitos de DSCR?")
    answer = run.message
    # The factory stamps question and answer with one time; the engine writes the answer later.
    answer.created_at = answer.created_at + timedelta(seconds=5)
    answer.inline_citations = [
        {
            "citation_number": 1,
            "start_index": 0,
            "end_index": 9,
            "source_name": "DSCR_Matrix.md",
            "page_number": 1,
        }
    ]
    answer.save(update_fields=["inline_citations", "created_at"])
    answer.citations.create(
        index=1, source_name="DSCR_Matrix.md", page_numbers=[1, 2], snippet="DSCR mínimo: 1.0", score=2.5
    )
    return run


def assert_user_brief(body: dict, user, role: str) -> None:
    assert set(body) == {"id", "email", "role"}
    assert is_uuid(body["id"]) and body["id"] == str(user.pk)
    assert body["email"] == user.email
    assert body["role"] == role


def assert_user_item(item: dict) -> None:
    assert set(item) == {"id", "email", "role", "status", "last_login", "created_at"}
    assert is_uuid(item["id"]) and isinstance(item["email"], str)
    assert item["role"] in {"rep", "manager", "admin"}
    assert item["status"] in {"active", "suspended"}
    assert item["last_login"] is None or is_timestamp(item["last_login"])
    assert is_timestamp(item["created_at"])


# --- Auth ------------------------------------------------------------------------------------


class TestLogin:
    def test_it_returns_a_bearer_token_and_the_user_as_a_rep(self, api_client, rep):
        response = api_client.post(
            url("auth/login"), {"email": rep.email, "password": PASSWORD}, format="json"
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"access_token", "token_type", "user"}
        assert isinstance(body["access_token"], str) and body["token_type"] == "bearer"
        assert_user_brief(body["user"], rep, "rep")
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
        assert api_client.get(url("auth/me")).json()["email"] == rep.email

    def test_a_wrong_password_and_an_unknown_email_read_the_same(self, api_client, rep):
        wrong = api_client.post(url("auth/login"), {"email": rep.email, "password": "nope"}, format="json")
        unknown = api_client.post(
            url("auth/login"), {"email": f"nadie@{DOMAIN}", "password": "nope"}, format="json"
        )
        assert_error(wrong, 401, "UNAUTHORIZED")
        assert_error(unknown, 401, "UNAUTHORIZED")
        assert wrong.json() == unknown.json()

    def test_an_email_outside_the_allowed_domains_is_a_400(self, api_client):
        make_user(email="someone@gmail.com")
        response = api_client.post(
            url("auth/login"), {"email": "someone@gmail.com", "password": PASSWORD}, format="json"
        )
        assert response.status_code == 400
        assert_error(response, 400, "EMAIL_DOMAIN_NOT_ALLOWED")
        assert DOMAIN in response.json()["detail"]["error"]

    def test_a_missing_password_is_a_400(self, api_client):
        assert_error(
            api_client.post(url("auth/login"), {"email": f"x@{DOMAIN}"}, format="json"),
            400,
            "VALIDATION_ERROR",
        )

    def test_a_suspended_account_cannot_log_in(self, api_client):
        suspended = make_user(email=f"fuera@{DOMAIN}", status="suspended")
        response = api_client.post(
            url("auth/login"), {"email": suspended.email, "password": PASSWORD}, format="json"
        )
        assert_error(response, 403, "FORBIDDEN")


class TestMe:
    def test_it_shows_the_caller(self, rep_client, rep):
        response = rep_client.get(url("auth/me"))
        assert response.status_code == 200
        assert_user_brief(response.json(), rep, "rep")

    def test_bytchat_roles_read_as_champions_roles(self, manager_api, manager_user, admin_api, admin):
        assert_user_brief(manager_api.get(url("auth/me")).json(), manager_user, "manager")
        assert_user_brief(admin_api.get(url("auth/me")).json(), admin, "admin")

    def test_it_needs_a_token(self, api_client):
        assert_error(api_client.get(url("auth/me")), 401, "UNAUTHORIZED")
        api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
        assert_error(api_client.get(url("auth/me")), 401, "UNAUTHORIZED")


class TestUserList:
    def test_managers_list_every_user(self, manager_api, rep, admin):
        response = manager_api.get(url("auth/users"))
        assert response.status_code == 200
        items = response.json()["items"]
        assert set(response.json()) == {"items"}
        assert {item["email"] for item in items} >= {rep.email, admin.email}
        for item in items:
            assert_user_item(item)
        assert next(item for item in items if item["email"] == rep.email)["role"] == "rep"

    def test_a_rep_may_not(self, rep_client):
        assert_error(rep_client.get(url("auth/users")), 403, "FORBIDDEN")


class TestRoleChange:
    def test_an_admin_changes_a_role(self, admin_api, rep):
        response = admin_api.patch(url(f"auth/users/{rep.pk}/role"), {"role": "manager"}, format="json")
        assert response.status_code == 200, response.content
        assert_user_brief(response.json(), rep, "manager")
        rep.refresh_from_db()
        assert rep.role == "manager"
        back = admin_api.patch(url(f"auth/users/{rep.pk}/role"), {"role": "rep"}, format="json")
        assert back.json()["role"] == "rep"
        rep.refresh_from_db()
        assert rep.role == "user"

    def test_only_an_admin_may(self, manager_api, rep):
        response = manager_api.patch(url(f"auth/users/{rep.pk}/role"), {"role": "admin"}, format="json")
        assert_error(response, 403, "FORBIDDEN")
        rep.refresh_from_db()
        assert rep.role == "user"

    def test_an_admin_cannot_change_their_own_role(self, admin_api, admin):
        response = admin_api.patch(url(f"auth/users/{admin.pk}/role"), {"role": "rep"}, format="json")
        assert_error(response, 403, "FORBIDDEN")

    def test_an_unknown_user_is_not_found_and_an_unknown_role_is_refused(self, admin_api, rep):
        missing = admin_api.patch(url(f"auth/users/{Conversation().pk}/role"), {"role": "rep"}, format="json")
        assert_error(missing, 404, "NOT_FOUND")
        unknown_role = admin_api.patch(url(f"auth/users/{rep.pk}/role"), {"role": "user"}, format="json")
        assert_error(unknown_role, 400, "VALIDATION_ERROR")


# --- Chat ------------------------------------------------------------------------------------

DOCUMENTED_EVENT_KEYS = {
    "session_init": {"type", "conversation_id", "message_id"},
    "tool_use": {"type", "tool", "status"},
    "delta": {"type", "content"},
    "citations": {"type", "citations", "inline_citations"},
    "done": {"type", "message_id", "tokens_used"},
    "error": {"type", "code", "error"},
}
CITATION_KEYS = {
    "index",
    "source_name",
    "source_uri",
    "page_number",
    "page_numbers",
    "snippet",
    "confidence",
    "metadata",
}
INLINE_KEYS = {"citation_number", "start_index", "end_index", "source_name", "page_number"}
EXAMPLE_CHAT = {
    "message": "¿Cuáles son los requisitos de DSCR?",
    "conversation_id": None,
    "stream": True,
    "metadata_filter": None,
}


class TestChat:
    def test_it_streams_exactly_the_documented_events(self, rep, assistant):
        status, headers, events = stream_chat(token(rep), EXAMPLE_CHAT)
        assert status == 200, events
        assert headers["content-type"] == "text/event-stream"
        for event in events:
            assert set(event) == DOCUMENTED_EVENT_KEYS[event["type"]], event
        types = [event["type"] for event in events]
        assert types[0] == "session_init" and types[-2:] == ["citations", "done"]
        assert [event["status"] for event in events if event["type"] == "tool_use"] == ["start", "complete"]
        assert {event["tool"] for event in events if event["type"] == "tool_use"} == {"file_search"}
        assert all(isinstance(event["content"], str) for event in events if event["type"] == "delta")

        init, citations, done = events[0], events[-2], events[-1]
        assert is_uuid(init["conversation_id"]) and is_uuid(init["message_id"])
        conversation = Conversation.objects.get(pk=init["conversation_id"])
        assert conversation.user == rep and conversation.bot == assistant
        assert citations["citations"], "the loan guide is the source"
        first = citations["citations"][0]
        assert set(first) == CITATION_KEYS
        assert first["index"] == 1 and first["source_name"] == "DSCR_Matrix.md"
        assert first["source_uri"].startswith("files/") and isinstance(first["page_numbers"], list)
        assert isinstance(first["snippet"], str) and first["confidence"] is None
        for inline in citations["inline_citations"]:
            assert set(inline) == INLINE_KEYS
        assert done["message_id"] == init["message_id"] and isinstance(done["tokens_used"], int)
        answer = Message.objects.get(pk=done["message_id"])
        assert answer.content == "".join(event["content"] for event in events if event["type"] == "delta")

    def test_a_conversation_id_continues_that_conversation(self, rep, assistant):
        _, _, first = stream_chat(token(rep), EXAMPLE_CHAT)
        conversation_id = first[0]["conversation_id"]
        body = {**EXAMPLE_CHAT, "message": "¿Y las reservas?", "conversation_id": conversation_id}
        status, _, events = stream_chat(token(rep), body)
        assert status == 200 and events[0]["conversation_id"] == conversation_id
        assert Conversation.objects.get(pk=conversation_id).messages.count() == 4

    def test_it_hides_another_users_conversation(self, rep, other_rep, assistant):
        _, _, first = stream_chat(token(rep), EXAMPLE_CHAT)
        body = {**EXAMPLE_CHAT, "conversation_id": first[0]["conversation_id"]}
        status, _, error = stream_chat(token(other_rep), body)
        assert status == 404 and error == {"detail": {"error": error["detail"]["error"], "code": "NOT_FOUND"}}

    def test_an_archived_conversation_takes_no_message(self, rep, assistant):
        conversation = make_conversation(user=rep, bot=assistant)
        Conversation.objects.filter(pk=conversation.pk).update(archived=True)
        status, _, error = stream_chat(token(rep), {**EXAMPLE_CHAT, "conversation_id": str(conversation.pk)})
        assert status == 400 and error["detail"]["code"] == "CONVERSATION_ARCHIVED"

    def test_the_message_limit(self, rep, assistant):
        rep.plan = Plan.objects.create(name="Small", max_messages_per_conversation=2)
        rep.save()
        conversation = make_conversation(user=rep, bot=assistant)
        Conversation.objects.filter(pk=conversation.pk).update(message_count=2)
        status, _, error = stream_chat(token(rep), {**EXAMPLE_CHAT, "conversation_id": str(conversation.pk)})
        assert status == 400 and error["detail"]["code"] == "MESSAGE_LIMIT"

    def test_the_conversation_limit(self, rep, assistant):
        rep.plan = Plan.objects.create(name="One", max_active_conversations=1)
        rep.save()
        make_conversation(user=rep, bot=assistant)
        status, _, error = stream_chat(token(rep), EXAMPLE_CHAT)
        assert status == 400 and error["detail"]["code"] == "CONVERSATION_LIMIT"

    def test_the_rate_limit(self, rep, assistant):
        rep.plan = Plan.objects.create(name="Slow", messages_per_minute=1)
        rep.save()
        assert stream_chat(token(rep), EXAMPLE_CHAT)[0] == 200
        status, headers, error = stream_chat(token(rep), EXAMPLE_CHAT)
        assert status == 429 and error["detail"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert int(headers["retry-after"]) >= 1

    def test_no_assistant_configured(self, rep):
        status, _, error = stream_chat(token(rep), EXAMPLE_CHAT)
        assert status == 500 and error["detail"]["code"] == "NO_FILE_SEARCH_STORE"

    def test_a_failed_answer_is_an_error_event(self, rep, settings):
        settings.MODEL_BASE_URL_ALLOWED_HOSTS = ["127.0.0.1:9"]  # a port no server listens on
        make_bot(
            owner=None,
            is_public=True,
            configs=[{"provider": "openai_compatible", "model_id": "x", "base_url": "http://127.0.0.1:9/v1"}],
        )
        status, _, events = stream_chat(token(rep), EXAMPLE_CHAT)
        assert status == 200
        assert events[-1] == {"type": "error", "code": "CHAT_FAILED", "error": events[-1]["error"]}

    def test_a_request_may_name_its_bot_but_not_another_users_private_one(self, rep, other_rep, assistant):
        own = make_bot(owner=rep)
        status, _, events = stream_chat(token(rep), {**EXAMPLE_CHAT, "bot": str(own.pk)})
        assert status == 200 and Conversation.objects.get(pk=events[0]["conversation_id"]).bot == own
        status, _, error = stream_chat(token(other_rep), {**EXAMPLE_CHAT, "bot": str(own.pk)})
        assert status == 404 and error["detail"]["code"] == "NOT_FOUND"

    def test_the_configured_assistant_answers_when_no_bot_is_named(self, rep, assistant, settings):
        newer = make_bot(owner=None, is_public=True, name_en="Underwriting")
        status, _, events = stream_chat(token(rep), EXAMPLE_CHAT)
        assert Conversation.objects.get(pk=events[0]["conversation_id"]).bot == assistant, "the oldest"
        settings.CHAMPIONS_BOT_ID = str(newer.pk)
        status, _, events = stream_chat(token(rep), EXAMPLE_CHAT)
        assert status == 200 and Conversation.objects.get(pk=events[0]["conversation_id"]).bot == newer

    def test_without_streaming_it_answers_in_one_body(self, rep, assistant):
        status, _, body = stream_chat(token(rep), {**EXAMPLE_CHAT, "stream": False})
        assert status == 200
        assert is_uuid(body["conversation_id"]) and is_uuid(body["message_id"])
        assert isinstance(body["content"], str) and isinstance(body["tokens_used"], int)
        assert body["citations"] and set(body["citations"][0]) >= CITATION_KEYS

    def test_no_token_and_a_blank_message_answer_in_the_error_format_before_the_stream(self, rep, assistant):
        status, _, error = stream_chat(None, EXAMPLE_CHAT)
        assert status == 401 and error["detail"]["code"] == "UNAUTHORIZED"
        status, _, error = stream_chat(token(rep), {**EXAMPLE_CHAT, "message": "  "})
        assert status == 400 and error["detail"]["code"] == "VALIDATION_ERROR"


class TestSuggestions:
    def test_it_suggests_from_feedback_frequent_questions_and_documents(self, rep_client, exchange):
        rate(exchange, "thumbs_up")
        response = rep_client.get(url("suggestions"))
        assert response.status_code == 200
        suggestions = response.json()["suggestions"]
        assert set(response.json()) == {"suggestions"}
        for suggestion in suggestions:
            assert set(suggestion) == {"text", "source"} and isinstance(suggestion["text"], str)
            assert suggestion["source"] in {"feedback", "frequent", "default"}
        assert suggestions[0] == {"text": "¿Cuáles son los requisitos de DSCR?", "source": "feedback"}
        assert any("DSCR_Matrix.md" in item["text"] for item in suggestions if item["source"] == "default")

    def test_another_users_history_is_not_suggested(self, other_rep_client, exchange):
        rate(exchange, "thumbs_up")
        sources = {item["source"] for item in other_rep_client.get(url("suggestions")).json()["suggestions"]}
        assert sources == {"default"}


# --- Conversations --------------------------------------------------------------------------

CONVERSATION_KEYS = {"id", "title", "archived", "created_at", "updated_at"}


def assert_conversation(item: dict) -> None:
    assert set(item) == CONVERSATION_KEYS
    assert is_uuid(item["id"]) and isinstance(item["title"], str) and isinstance(item["archived"], bool)
    assert is_timestamp(item["created_at"]) and is_timestamp(item["updated_at"])


class TestConversationList:
    def test_it_lists_the_callers_conversations_newest_first_with_a_cursor(self, rep_client, rep, assistant):
        made = [make_conversation(user=rep, bot=assistant, title=f"Chat {n}") for n in range(3)]
        first = rep_client.get(url("conversations"), {"limit": 2})
        assert first.status_code == 200
        body = first.json()
        assert set(body) == {"items", "next_cursor"}
        for item in body["items"]:
            assert_conversation(item)
        assert [item["title"] for item in body["items"]] == ["Chat 2", "Chat 1"]
        assert is_timestamp(body["next_cursor"])
        second = rep_client.get(url("conversations"), {"limit": 2, "cursor": body["next_cursor"]}).json()
        assert [item["id"] for item in second["items"]] == [str(made[0].pk)]
        assert second["next_cursor"] is None

    def test_archived_conversations_only_when_asked(self, rep_client, rep, assistant):
        kept = make_conversation(user=rep, bot=assistant)
        archived = make_conversation(user=rep, bot=assistant)
        Conversation.objects.filter(pk=archived.pk).update(archived=True)
        default = {item["id"] for item in rep_client.get(url("conversations")).json()["items"]}
        assert default == {str(kept.pk)}
        everything = rep_client.get(url("conversations"), {"include_archived": "true"}).json()["items"]
        assert {item["id"] for item in everything} == {str(kept.pk), str(archived.pk)}
        assert next(item for item in everything if item["id"] == str(archived.pk))["archived"] is True

    def test_it_shows_nothing_of_another_user(self, other_rep_client, exchange):
        assert other_rep_client.get(url("conversations")).json() == {"items": [], "next_cursor": None}

    def test_a_bad_cursor_is_a_400(self, rep_client):
        assert_error(rep_client.get(url("conversations"), {"cursor": "yesterday"}), 400, "VALIDATION_ERROR")


class TestConversationDetail:
    def test_it_shows_messages_and_citations(self, rep_client, exchange):
        response = rep_client.get(url(f"conversations/{exchange.conversation_id}"))
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"conversation", "messages", "citations"}
        assert_conversation(body["conversation"])
        question, answer = body["messages"]
        assert set(question) == {"id", "role", "content", "created_at", "inline_citations"}
        assert question["role"] == "user" and question["inline_citations"] is None
        assert set(answer) == {
            "id",
            "role",
            "content",
            "model",
            "tokens_used",
            "created_at",
            "inline_citations",
        }
        assert (
            answer["role"] == "assistant"
            and answer["model"] == "gpt-4o-mini"
            and answer["tokens_used"] == 150
        )
        assert set(answer["inline_citations"][0]) == INLINE_KEYS
        for message in body["messages"]:
            assert is_uuid(message["id"]) and is_timestamp(message["created_at"])
        (citation,) = body["citations"]
        assert set(citation) == CITATION_KEYS | {"message_id"}
        assert citation["index"] == 1 and citation["page_number"] == 1 and citation["page_numbers"] == [1, 2]
        assert citation["snippet"] == "DSCR mínimo: 1.0" and citation["message_id"] == answer["id"]

    def test_it_hides_another_users_conversation(self, other_rep_client, exchange):
        assert_error(other_rep_client.get(url(f"conversations/{exchange.conversation_id}")), 404, "NOT_FOUND")

    def test_an_unknown_id_is_a_404(self, rep_client):
        assert_error(rep_client.get(url(f"conversations/{Conversation().pk}")), 404, "NOT_FOUND")
        assert_error(rep_client.get(url("conversations/not-a-uuid")), 404, "NOT_FOUND")


class TestRename:
    def test_it_renames(self, rep_client, exchange):
        response = rep_client.patch(
            url(f"conversations/{exchange.conversation_id}"), {"title": "Nuevo Título"}, format="json"
        )
        assert response.status_code == 200
        assert response.json() == {
            "id": str(exchange.conversation_id),
            "title": "Nuevo Título",
            "archived": False,
        }
        assert Conversation.objects.get(pk=exchange.conversation_id).title == "Nuevo Título"

    def test_it_hides_another_users_conversation(self, other_rep_client, exchange):
        response = other_rep_client.patch(
            url(f"conversations/{exchange.conversation_id}"), {"title": "Mío"}, format="json"
        )
        assert_error(response, 404, "NOT_FOUND")
        assert Conversation.objects.get(pk=exchange.conversation_id).title == "Requisitos DSCR"

    def test_a_blank_title_is_a_400(self, rep_client, exchange):
        response = rep_client.patch(
            url(f"conversations/{exchange.conversation_id}"), {"title": ""}, format="json"
        )
        assert_error(response, 400, "VALIDATION_ERROR")


class TestArchive:
    def test_it_archives_and_restores(self, rep_client, exchange):
        path = url(f"conversations/{exchange.conversation_id}/archive")
        archived = rep_client.post(path, {"archived": True}, format="json")
        assert archived.status_code == 200
        body = archived.json()
        assert set(body) == {"id", "archived", "archived_at"}
        assert body["id"] == str(exchange.conversation_id) and body["archived"] is True
        assert is_timestamp(body["archived_at"])
        restored = rep_client.post(path, {"archived": False}, format="json").json()
        assert restored["archived"] is False and restored["archived_at"] is None

    def test_it_hides_another_users_conversation(self, other_rep_client, exchange):
        response = other_rep_client.post(
            url(f"conversations/{exchange.conversation_id}/archive"), {"archived": True}, format="json"
        )
        assert_error(response, 404, "NOT_FOUND")
        assert Conversation.objects.get(pk=exchange.conversation_id).archived is False

    def test_archived_is_required(self, rep_client, exchange):
        response = rep_client.post(
            url(f"conversations/{exchange.conversation_id}/archive"), {}, format="json"
        )
        assert_error(response, 400, "VALIDATION_ERROR")


class TestFeedback:
    def test_it_rates_an_answer(self, rep_client, exchange):
        body = {"message_id": str(exchange.message_id), "rating": "thumbs_up", "comment": "¡Muy útil!"}
        response = rep_client.post(url("conversations/feedback"), body, format="json")
        assert response.status_code == 200
        answer = response.json()
        assert set(answer) == {"id", "rating", "comment", "created_at"}
        assert is_uuid(answer["id"]) and is_timestamp(answer["created_at"])
        assert (answer["rating"], answer["comment"]) == ("thumbs_up", "¡Muy útil!")
        assert Feedback.objects.get().message_id == exchange.message_id

    def test_it_hides_another_users_message(self, other_rep_client, exchange):
        body = {"message_id": str(exchange.message_id), "rating": "thumbs_down"}
        assert_error(
            other_rep_client.post(url("conversations/feedback"), body, format="json"), 404, "NOT_FOUND"
        )
        assert not Feedback.objects.exists()

    def test_an_unknown_rating_is_a_400(self, rep_client, exchange):
        body = {"message_id": str(exchange.message_id), "rating": "love"}
        assert_error(
            rep_client.post(url("conversations/feedback"), body, format="json"), 400, "VALIDATION_ERROR"
        )


# --- Admin ----------------------------------------------------------------------------------


class TestAnalytics:
    def test_it_summarises_the_period_day_by_day(self, manager_api, exchange):
        response = manager_api.get(url("admin/analytics"), {"days": 7})
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"summary", "daily_stats", "period_days"}
        assert set(body["summary"]) == {
            "total_users",
            "total_conversations",
            "total_messages",
            "total_tokens",
            "total_runs",
            "total_errors",
        }
        assert all(isinstance(value, int) for value in body["summary"].values())
        assert body["summary"]["total_runs"] == 1 and body["summary"]["total_tokens"] == 150
        assert body["period_days"] == 7 and len(body["daily_stats"]) == 7
        today = body["daily_stats"][-1]
        assert set(today) == {"date", "runs", "tokens", "errors", "active_users"}
        assert today["date"] == timezone.localdate().isoformat()
        assert (today["runs"], today["tokens"], today["errors"], today["active_users"]) == (1, 150, 0, 1)

    def test_the_default_period_is_thirty_days(self, admin_api):
        body = admin_api.get(url("admin/analytics")).json()
        assert body["period_days"] == 30 and len(body["daily_stats"]) == 30

    def test_reps_are_forbidden_and_a_period_of_zero_days_is_refused(self, rep_client, manager_api):
        assert_error(rep_client.get(url("admin/analytics")), 403, "FORBIDDEN")
        assert_error(manager_api.get(url("admin/analytics"), {"days": 0}), 400, "VALIDATION_ERROR")


RUN_KEYS = {
    "id",
    "user_id",
    "user_email",
    "conversation_id",
    "message_id",
    "input_preview",
    "input_full",
    "model",
    "tokens_used",
    "latency_ms",
    "status",
    "error_code",
    "feedback",
    "created_at",
}


class TestRuns:
    def test_it_lists_runs_with_their_feedback(self, manager_api, exchange, rep):
        rate(exchange, "thumbs_up")
        response = manager_api.get(url("admin/runs"))
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"items", "total", "next_cursor"}
        assert body["total"] == 1 and body["next_cursor"] is None
        (run,) = body["items"]
        assert set(run) == RUN_KEYS
        assert (
            run["id"] == str(exchange.pk) and run["user_id"] == str(rep.pk) and run["user_email"] == rep.email
        )
        assert is_uuid(run["conversation_id"]) and is_uuid(run["message_id"])
        assert run["input_full"] == "¿Cuáles son los requisitos de DSCR?" and isinstance(
            run["input_preview"], str
        )
        assert (run["model"], run["tokens_used"], run["latency_ms"]) == ("gpt-4o-mini", 150, 1000)
        assert run["status"] == "success" and run["error_code"] is None
        assert run["feedback"] == {"rating": "thumbs_up", "comment": None}
        assert is_timestamp(run["created_at"])

    def test_filters_and_pages(self, manager_api, rep, other_rep, assistant):
        mine = make_conversation(user=rep, bot=assistant)
        theirs = make_conversation(user=other_rep, bot=assistant)
        for _ in range(3):
            make_exchange(conversation=mine)
        failed = make_exchange(conversation=theirs, status="error")
        errors = manager_api.get(url("admin/runs"), {"status": "error"}).json()
        assert [item["id"] for item in errors["items"]] == [str(failed.pk)]
        assert errors["items"][0]["error_code"] == "PROVIDER_ERROR" and errors["items"][0]["feedback"] is None
        by_user = manager_api.get(url("admin/runs"), {"user_id": str(rep.pk)}).json()
        assert by_user["total"] == 3 and {item["user_id"] for item in by_user["items"]} == {str(rep.pk)}
        first = manager_api.get(url("admin/runs"), {"limit": 2}).json()
        assert first["total"] == 4 and len(first["items"]) == 2 and is_uuid(first["next_cursor"])
        by_offset = manager_api.get(url("admin/runs"), {"limit": 2, "offset": 2}).json()
        by_cursor = manager_api.get(url("admin/runs"), {"limit": 2, "cursor": first["next_cursor"]}).json()
        assert [item["id"] for item in by_offset["items"]] == [item["id"] for item in by_cursor["items"]]
        seen = {item["id"] for item in first["items"] + by_offset["items"]}
        assert len(seen) == 4

    def test_reps_are_forbidden_and_unknown_filter_values_are_refused(self, rep_client, manager_api):
        assert_error(rep_client.get(url("admin/runs")), 403, "FORBIDDEN")
        assert_error(manager_api.get(url("admin/runs"), {"status": "great"}), 400, "VALIDATION_ERROR")
        assert_error(
            manager_api.get(url("admin/runs"), {"user_id": str(Conversation().pk)}), 400, "VALIDATION_ERROR"
        )


class TestAdminUsers:
    def test_it_lists_users_with_details(self, manager_api, rep):
        response = manager_api.get(url("admin/users"))
        assert response.status_code == 200
        for item in response.json()["items"]:
            assert_user_item(item)
        assert rep.email in {item["email"] for item in response.json()["items"]}

    def test_a_rep_may_not(self, rep_client):
        assert_error(rep_client.get(url("admin/users")), 403, "FORBIDDEN")


class TestUserStatus:
    def test_an_admin_suspends_and_the_token_stops_working(self, admin_api, rep, rep_client):
        response = admin_api.patch(
            url(f"admin/users/{rep.pk}/status"), {"status": "suspended"}, format="json"
        )
        assert response.status_code == 200
        assert response.json() == {"id": str(rep.pk), "status": "suspended"}
        assert_error(rep_client.get(url("auth/me")), 401, "UNAUTHORIZED")
        again = admin_api.patch(url(f"admin/users/{rep.pk}/status"), {"status": "active"}, format="json")
        assert again.json()["status"] == "active"

    def test_managers_read_but_do_not_change_accounts(self, manager_api, rep):
        response = manager_api.patch(
            url(f"admin/users/{rep.pk}/status"), {"status": "suspended"}, format="json"
        )
        assert_error(response, 403, "FORBIDDEN")
        rep.refresh_from_db()
        assert rep.status == "active"

    def test_an_admin_cannot_change_their_own_status_nor_an_unknown_users_nor_set_an_unknown_one(
        self, admin_api, admin, rep
    ):
        own = admin_api.patch(url(f"admin/users/{admin.pk}/status"), {"status": "suspended"}, format="json")
        assert_error(own, 403, "FORBIDDEN")
        missing = admin_api.patch(
            url(f"admin/users/{Conversation().pk}/status"), {"status": "active"}, format="json"
        )
        assert_error(missing, 404, "NOT_FOUND")
        bad = admin_api.patch(url(f"admin/users/{rep.pk}/status"), {"status": "gone"}, format="json")
        assert_error(bad, 400, "VALIDATION_ERROR")


class TestAdminConversations:
    def test_it_lists_every_users_conversations(self, admin_api, exchange, rep):
        response = admin_api.get(url("admin/conversations"))
        assert response.status_code == 200
        (item,) = response.json()["items"]
        assert set(item) == {"id", "user_email", "title", "message_count", "created_at", "updated_at"}
        assert item["id"] == str(exchange.conversation_id) and item["user_email"] == rep.email
        assert item["title"] == "Requisitos DSCR" and item["message_count"] == 2
        assert is_timestamp(item["created_at"]) and is_timestamp(item["updated_at"])

    def test_only_admins_read_every_users_conversations(self, manager_api, rep_client):
        assert_error(manager_api.get(url("admin/conversations")), 403, "FORBIDDEN")
        assert_error(rep_client.get(url("admin/conversations")), 403, "FORBIDDEN")

    def test_an_admin_deletes_one(self, admin_api, exchange):
        response = admin_api.delete(url(f"admin/conversations/{exchange.conversation_id}"))
        assert response.status_code == 200 and response.json() == {"deleted": True}
        assert not Conversation.objects.filter(pk=exchange.conversation_id).exists()
        again = admin_api.delete(url(f"admin/conversations/{exchange.conversation_id}"))
        assert_error(again, 404, "NOT_FOUND")

    def test_only_an_admin_deletes(self, manager_api, rep_client, exchange):
        assert_error(
            manager_api.delete(url(f"admin/conversations/{exchange.conversation_id}")), 403, "FORBIDDEN"
        )
        assert_error(
            rep_client.delete(url(f"admin/conversations/{exchange.conversation_id}")), 403, "FORBIDDEN"
        )
        assert Conversation.objects.filter(pk=exchange.conversation_id).exists()


class TestDocuments:
    def test_it_lists_the_assistants_documents(self, manager_api, assistant):
        response = manager_api.get(url("admin/documents"))
        assert response.status_code == 200
        (item,) = response.json()["items"]
        assert set(item) >= {"id", "file_search_doc_id", "filename", "program", "is_active", "created_at"}
        assert is_uuid(item["id"]) and isinstance(item["file_search_doc_id"], str)
        assert item["filename"] == "DSCR_Matrix.md" and item["program"] is None and item["is_active"] is True
        assert is_timestamp(item["created_at"])

    def test_a_rep_may_not(self, rep_client, assistant):
        assert_error(rep_client.get(url("admin/documents")), 403, "FORBIDDEN")

    def test_another_users_private_bot_is_a_404(self, manager_api, rep, assistant):
        private = make_bot(owner=rep)
        assert_error(manager_api.get(url("admin/documents"), {"bot": str(private.pk)}), 404, "NOT_FOUND")


def test_an_unknown_path_answers_in_the_champions_error_body(rep_client):
    assert_error(rep_client.get(url("nothing-here")), 404, "NOT_FOUND")

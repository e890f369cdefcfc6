"""The JSON endpoints the panel's JavaScript calls: the session cookie, CSRF, ownership."""

from __future__ import annotations

import json
import uuid

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import AsyncClient
from django.urls import reverse

from accounts.models import Plan
from accounts.services import auth_tokens_issue
from bots.models import DocumentStatus
from bytchat.panel.tests.conftest import session_for
from chat.models import Conversation, Feedback, Message
from chat.tests.helpers import parse_sse

pytestmark = pytest.mark.django_db


def stream(
    client, body: dict, *, csrf: str | None = None, enforce_csrf: bool = False, url: str | None = None
) -> tuple[int, list[dict]]:
    """POST /app/api/chat (or another streaming `url`) with the cookies of a logged-in test
    client, read the events."""

    async def run():
        async_client = AsyncClient(enforce_csrf_checks=enforce_csrf or csrf is not None)
        async_client.cookies = client.cookies
        headers = {"X-CSRFToken": csrf} if csrf else {}
        response = await async_client.post(
            url or reverse("panel:api-chat"), body, content_type="application/json", headers=headers
        )
        if not response.streaming:
            return response.status_code, [json.loads(response.content)] if response.content[
                :1
            ] == b"{" else []
        events = []
        async for chunk in response.streaming_content:
            events.extend(parse_sse(chunk))
        return response.status_code, events

    return async_to_sync(run)()


def csrf_client(user):
    client = session_for(user, enforce_csrf=True)
    client.get(reverse("panel:dashboard"))  # sets the CSRF cookie, as a page load does
    return client, client.cookies["csrftoken"].value


class TestSessionAndCsrf:
    def test_visitors_get_401(self, client, bot):
        response = client.get(reverse("panel:api-bot-models", args=[bot.pk]))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"

    def test_a_bearer_token_is_not_a_session(self, user, bot):
        from django.test import Client

        token = auth_tokens_issue(user=user).access
        response = Client().get(
            reverse("panel:api-bot-models", args=[bot.pk]), headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401

    def test_an_unsafe_request_without_the_csrf_token_is_refused(self, user, bot):
        client, token = csrf_client(user)
        url = reverse("panel:api-bot-models", args=[bot.pk])
        body = {"provider": "local", "task_type": "simple"}
        refused = client.post(url, body, content_type="application/json")
        assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
        assert bot.model_configs.count() == 1
        accepted = client.post(url, body, content_type="application/json", headers={"X-CSRFToken": token})
        assert accepted.status_code == 201 and bot.model_configs.count() == 2

    def test_reads_need_no_csrf_token(self, user, bot):
        client, _token = csrf_client(user)
        assert client.get(reverse("panel:api-bot-models", args=[bot.pk])).status_code == 200

    def test_the_chat_stream_refuses_a_request_without_the_csrf_token(self, user, bot):
        client, _token = csrf_client(user)
        body = {"bot": str(bot.pk), "message": "Refunds?"}
        assert stream(client, body, enforce_csrf=True)[0] == 403
        assert stream(client, body, csrf="wrong-token")[0] == 403
        assert not Message.objects.exists()

    def test_the_chat_stream_with_the_csrf_token(self, user, bot):
        client, token = csrf_client(user)
        status, events = stream(
            client, {"bot": str(bot.pk), "message": "How long do refunds take?"}, csrf=token
        )
        assert status == 200
        assert [event["type"] for event in events][:1] == ["session_init"]
        assert events[-1]["type"] == "done"
        citations = next(event for event in events if event["type"] == "citations")["citations"]
        assert citations[0]["source_name"] == "handbook.txt"

    def test_the_chat_stream_needs_a_session(self, client, bot):
        status, events = stream(client, {"bot": str(bot.pk), "message": "Hi"})
        assert status == 401 and events[0]["error"]["code"] == "UNAUTHORIZED"
        status, events = stream(client, {"message": ""})  # whatever the body
        assert status == 401 and events[0]["error"]["code"] == "UNAUTHORIZED"


class TestChatErrors:
    def test_the_per_bot_limit_asks_for_confirmation_then_evicts(self, panel, user, bot, conversation):
        user.plan = Plan.objects.create(name="One per bot", max_conversations_per_bot=1)
        user.save()
        status, events = stream(panel, {"bot": str(bot.pk), "message": "Refunds?"})
        assert status == 409
        error = events[0]["error"]
        assert error["code"] == "CONVERSATION_LIMIT_PER_BOT" and error["requires_confirmation"] is True
        assert error["oldest_conversation"]["title"] == "About refunds"
        status, events = stream(panel, {"bot": str(bot.pk), "message": "Refunds?", "confirm_delete": True})
        assert status == 200 and not Conversation.objects.filter(pk=conversation.pk).exists()

    def test_the_token_quota_stops_a_question_before_it_is_stored(self, panel, user, bot):
        user.plan = Plan.objects.create(name="No tokens", monthly_token_quota=0)
        user.save()
        status, events = stream(panel, {"bot": str(bot.pk), "message": "Refunds?"})
        assert status == 429 and events[0]["error"]["code"] == "TOKEN_QUOTA_EXCEEDED"
        assert not Message.objects.exists()


class TestBotEditorEndpoints:
    def test_the_model_toolbox(self, panel, bot):
        url = reverse("panel:api-bot-models", args=[bot.pk])
        added = panel.post(
            url,
            {"provider": "openai", "model_id": "gpt-4o-mini", "priority": 2},
            content_type="application/json",
        )
        assert added.status_code == 201
        config_url = reverse("panel:api-bot-model", args=[bot.pk, added.json()["id"]])
        assert (
            panel.patch(config_url, {"priority": 1}, content_type="application/json").json()["priority"] == 1
        )
        assert panel.delete(config_url).status_code == 204
        last = bot.model_configs.get()
        refused = panel.delete(reverse("panel:api-bot-model", args=[bot.pk, last.pk]))
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "LAST_MODEL_CONFIG"

    def test_upload_a_document_and_read_its_status(self, panel, bot, django_capture_on_commit_callbacks):
        upload = SimpleUploadedFile(
            "faq.txt", b"Shipping takes five working days.", content_type="text/plain"
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = panel.post(reverse("panel:api-bot-documents", args=[bot.pk]), {"file": upload})
        assert response.status_code == 202
        document_id = response.json()["id"]
        detail = panel.get(reverse("panel:api-bot-document", args=[bot.pk, document_id])).json()
        assert detail["status"] == DocumentStatus.READY and detail["chunk_count"] >= 1

    def test_a_file_that_cannot_be_read_fails_with_its_reason(
        self, panel, bot, django_capture_on_commit_callbacks
    ):
        upload = SimpleUploadedFile(
            "broken.pdf", b"%PDF-1.4 this is not really a pdf", content_type="application/pdf"
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = panel.post(reverse("panel:api-bot-documents", args=[bot.pk]), {"file": upload})
        assert response.status_code == 202
        detail = panel.get(reverse("panel:api-bot-document", args=[bot.pk, response.json()["id"]])).json()
        assert detail["status"] == DocumentStatus.FAILED and detail["error_message"]


class TestOwnership:
    """Every endpoint with an id answers 404 to another user."""

    def test_another_users_bot_and_conversation_are_not_found(self, other_panel, user, bot, conversation):
        from chat.services.engine import chat_complete

        result = chat_complete(user=user, bot_id=bot.pk, message="Refunds?", conversation_id=conversation.pk)
        document = bot.documents.get()
        config = bot.model_configs.get()
        message_id = result.assistant_message.pk
        requests = [
            ("get", reverse("panel:api-bot", args=[bot.pk]), None),
            ("get", reverse("panel:api-bot-models", args=[bot.pk]), None),
            ("post", reverse("panel:api-bot-models", args=[bot.pk]), {"provider": "local"}),
            ("patch", reverse("panel:api-bot-model", args=[bot.pk, config.pk]), {"priority": 3}),
            ("delete", reverse("panel:api-bot-model", args=[bot.pk, config.pk]), None),
            ("get", reverse("panel:api-bot-documents", args=[bot.pk]), None),
            ("get", reverse("panel:api-bot-document", args=[bot.pk, document.pk]), None),
            ("delete", reverse("panel:api-bot-document", args=[bot.pk, document.pk]), None),
            ("post", reverse("panel:api-bot-document-reindex", args=[bot.pk, document.pk]), None),
            ("get", reverse("panel:api-conversation", args=[conversation.pk]), None),
            ("patch", reverse("panel:api-conversation", args=[conversation.pk]), {"title": "Mine"}),
            ("delete", reverse("panel:api-conversation", args=[conversation.pk]), None),
            ("post", reverse("panel:api-conversation-archive", args=[conversation.pk]), {"archived": True}),
            ("get", reverse("panel:api-conversation-messages", args=[conversation.pk]), None),
            ("post", reverse("panel:api-message-feedback", args=[message_id]), {"rating": "thumbs_down"}),
            ("get", reverse("panel:api-suggestions") + f"?bot={bot.pk}", None),
            ("post", reverse("panel:api-conversations"), {"bot": str(bot.pk)}),
        ]
        for method, url, body in requests:
            response = getattr(other_panel, method)(url, body, content_type="application/json")
            assert response.status_code == 404, (method, url, response.status_code)
        status, _events = stream(
            other_panel, {"bot": str(bot.pk), "message": "Hi", "conversation": str(conversation.pk)}
        )
        assert status == 404
        conversation.refresh_from_db()
        assert conversation.title == "About refunds" and not conversation.archived
        assert bot.model_configs.count() == 1 and bot.documents.count() == 1
        assert not Feedback.objects.exists()

    def test_unknown_ids_are_not_found(self, panel):
        assert panel.get(reverse("panel:api-conversation", args=[uuid.uuid4()])).status_code == 404


class TestConversations:
    def test_rename_archive_feedback_and_delete(self, panel, user, bot, conversation):
        from chat.services.engine import chat_complete

        result = chat_complete(user=user, bot_id=bot.pk, message="Refunds?", conversation_id=conversation.pk)
        url = reverse("panel:api-conversation", args=[conversation.pk])
        assert (
            panel.patch(url, {"title": "Refund policy"}, content_type="application/json").status_code == 200
        )
        archive = reverse("panel:api-conversation-archive", args=[conversation.pk])
        assert (
            panel.post(archive, {"archived": True}, content_type="application/json").json()["archived"]
            is True
        )
        feedback = panel.post(
            reverse("panel:api-message-feedback", args=[result.assistant_message.pk]),
            {"rating": "thumbs_up", "comment": "Clear"},
            content_type="application/json",
        )
        assert feedback.status_code == 200
        assert Feedback.objects.get().comment == "Clear"
        assert panel.delete(url).status_code == 204
        assert not Conversation.objects.exists()

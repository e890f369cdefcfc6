"""The panel's regenerate, edit, versions and export calls: the session, CSRF, ownership."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bytchat.panel.tests.test_api import csrf_client, stream
from chat.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(user, bot):
    client, token = csrf_client(user)
    status, events = stream(client, {"bot": str(bot.pk), "message": "How long do refunds take?"}, csrf=token)
    assert status == 200 and events[-1]["type"] == "done"
    return events[0]


def test_regenerate_and_edit_stream_with_the_session_and_csrf_token(user, answered):
    client, token = csrf_client(user)
    regenerate_url = reverse("panel:api-chat-regenerate", args=[answered["message_id"]])
    assert stream(client, {}, url=regenerate_url, enforce_csrf=True)[0] == 403
    status, events = stream(client, {}, url=regenerate_url, csrf=token)
    assert status == 200 and events[-1]["type"] == "done"
    assert Message.objects.get(pk=answered["message_id"]).replaced_by_id is not None

    edit_url = reverse("panel:api-chat-edit", args=[answered["user_message_id"]])
    status, events = stream(client, {"message": "And refunds by card?"}, url=edit_url, csrf=token)
    assert status == 200 and events[-1]["type"] == "done"
    assert Message.objects.get(pk=events[0]["user_message_id"]).content == "And refunds by card?"

    versions = client.get(reverse("panel:api-message-versions", args=[events[0]["user_message_id"]]))
    assert [version["current"] for version in versions.json()["versions"]] == [False, True]
    export = client.get(
        reverse("panel:api-conversation-export", args=[answered["conversation_id"]]) + "?format=md"
    )
    assert export.status_code == 200 and "And refunds by card?" in export.content.decode()


def test_another_user_and_a_visitor_cannot_reach_them(other_user, client, answered):
    other, token = csrf_client(other_user)
    for name, message_id, body in [
        ("panel:api-chat-regenerate", answered["message_id"], {}),
        ("panel:api-chat-edit", answered["user_message_id"], {"message": "Mine"}),
    ]:
        status, events = stream(other, body, url=reverse(name, args=[message_id]), csrf=token)
        assert status == 404 and events[0]["error"]["code"] == "NOT_FOUND"
        status, events = stream(client, body, url=reverse(name, args=[message_id]))
        assert status == 401 and events[0]["error"]["code"] == "UNAUTHORIZED"
    assert other.get(reverse("panel:api-message-versions", args=[answered["message_id"]])).status_code == 404
    export = other.get(reverse("panel:api-conversation-export", args=[answered["conversation_id"]]))
    assert export.status_code == 404
    assert Message.objects.count() == 2

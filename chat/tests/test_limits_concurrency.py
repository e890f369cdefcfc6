"""Plan limits under parallel requests, on PostgreSQL where they really run in parallel."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from accounts.models import Plan
from accounts.services import auth_tokens_issue
from chat.models import Conversation, Message
from chat.tests.helpers import make_bot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PARALLEL = 8


def _post_in_parallel(token: str, bodies: list[dict]) -> list[int]:
    from rest_framework.test import APIClient

    def post(body):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            return client.post("/api/v1/chat", body, format="json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(post, bodies))


def test_parallel_new_conversations_never_pass_the_active_limit(user):
    user.plan = Plan.objects.create(name="Three active", max_active_conversations=3)
    user.save()
    bot = make_bot(owner=user)
    token = auth_tokens_issue(user=user).access
    body = {"bot": str(bot.pk), "message": "hello there", "stream": False}
    statuses = _post_in_parallel(token, [body] * PARALLEL)
    assert statuses.count(201) == 3
    assert set(statuses) == {201, 409}
    assert Conversation.objects.filter(user=user).count() == 3


def test_parallel_messages_never_pass_the_conversation_limit(user):
    user.plan = Plan.objects.create(name="Six messages", max_messages_per_conversation=6)
    user.save()
    bot = make_bot(owner=user)
    token = auth_tokens_issue(user=user).access
    first = _post_in_parallel(token, [{"bot": str(bot.pk), "message": "start", "stream": False}])
    assert first == [201]
    conversation = Conversation.objects.get()
    body = {"bot": str(bot.pk), "message": "more", "conversation": str(conversation.pk), "stream": False}
    statuses = _post_in_parallel(token, [body] * PARALLEL)
    assert statuses.count(201) == 2
    assert Message.objects.filter(conversation=conversation).count() == 6
    conversation.refresh_from_db()
    assert conversation.message_count == 6

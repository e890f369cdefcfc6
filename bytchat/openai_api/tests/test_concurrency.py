"""The per-key requests-per-minute cap under parallel requests, on PostgreSQL (and Redis
as the cache when REDIS_URL is set): N requests at once, then count the runs stored."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from bots.tests.factories import make_bot
from chat.models import Channel, Run
from chat.services.api_keys import api_key_create
from chat.tests.test_limits_concurrency import at_once, statuses

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_requests_never_pass_the_keys_cap(user):
    bot = make_bot(owner=user)
    capped = api_key_create(user=user, name="capped", requests_per_minute=4)
    other = api_key_create(user=user, name="other")
    body = json.dumps({"model": str(bot.pk), "messages": [{"role": "user", "content": "hello there"}]})

    def post(index: int):
        secret = capped.secret if index < 20 else other.secret
        return Client().post(
            "/openai/v1/chat/completions",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {secret}"},
        )

    responses = at_once(24, post)
    capped_statuses = statuses(responses[:20])
    assert capped_statuses.count(200) == 4
    assert set(capped_statuses) == {200, 429}
    refused = [response for response in responses[:20] if response.status_code == 429]
    assert {response.json()["error"]["code"] for response in refused} == {"rate_limit_exceeded"}
    assert all(int(response["Retry-After"]) >= 1 for response in refused)
    # Another key of the same user has its own count.
    assert statuses(responses[20:]) == [200] * 4
    assert Run.objects.filter(api_key=capped.key, channel=Channel.OPENAI).count() == 4
    assert Run.objects.filter(api_key=other.key).count() == 4

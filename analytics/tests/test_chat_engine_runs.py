"""Figures of what the real chat engine writes (offline provider), end to end."""

from __future__ import annotations

import pytest

from bots.tests.factories import make_bot
from chat.tests.helpers import add_knowledge

pytestmark = pytest.mark.django_db

BASE = "/api/v1/analytics/"


def test_an_answer_and_its_rating_show_up_in_every_figure(user, user_client, admin_client_api):
    bot = make_bot(owner=user)
    add_knowledge(bot, "handbook.md", "Refunds are accepted within 30 days of purchase.")
    body = {"bot": str(bot.pk), "message": "How many days for a refund?", "stream": False}
    answer = user_client.post("/api/v1/chat", body, format="json")
    assert answer.status_code == 201, answer.content
    message_id = answer.json()["assistant_message"]["id"]
    feedback = {"rating": "thumbs_down", "comment": "It should cite the refund form"}
    assert (
        user_client.post(f"/api/v1/messages/{message_id}/feedback", feedback, format="json").status_code
        == 200
    )

    overview = admin_client_api.get(BASE + "overview?days=1").json()
    assert (overview["runs"], overview["conversations"], overview["messages"]) == (1, 1, 2)
    assert (overview["errors"], overview["active_users"], overview["thumbs_down"]) == (0, 1, 1)
    assert overview["latency_p50_ms"] is not None

    (run,) = admin_client_api.get(BASE + "runs").json()["results"]
    assert run["message_id"] == message_id and run["provider"] == "local"
    assert run["input_full"] == "How many days for a refund?"
    assert run["feedback"] == feedback

    (group,) = admin_client_api.get(BASE + "feedback").json()["results"]
    assert {"word": "refund", "count": 1} in group["top_words"]

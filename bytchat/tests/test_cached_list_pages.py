"""The first pages of the bot and conversation lists come from the cache
(`bytchat.api.cached_pages`), and every write they show is seen from the next request."""

from __future__ import annotations

import json

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import auth_tokens_issue, user_admin_update
from bots.tests.factories import make_bot, make_category
from chat.tests.fakes.llm_servers import FakeServer, OpenAIHandler
from chat.tests.helpers import stream_chat
from chat.tests.test_hot_path_cache_two_processes import in_another_process
from chat.tests.test_streaming_server import asgi_server

pytestmark = pytest.mark.django_db(transaction=True)

BOTS = "/api/v1/bots"
CONVERSATIONS = "/api/v1/conversations"


def _get(client, path: str, **headers) -> tuple[dict, int]:
    """The body, and the queries it took."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)
    assert response.status_code == 200, response.content
    return response.json(), len(queries)


def _names(client) -> list[str]:
    return [bot["name"] for bot in client.get(BOTS).json()["results"]]


def _conversations(client) -> dict[str, dict]:
    return {row["id"]: row for row in client.get(CONVERSATIONS).json()["results"]}


def test_a_first_page_is_read_once_then_served_from_the_cache(user, user_client):
    make_bot(owner=user, name_en="Mine")
    make_bot(owner=None, is_public=True, name_en="Agent")
    user_client.post(CONVERSATIONS, {"bot": str(make_bot(owner=user).pk)}, format="json")
    for path in (BOTS, CONVERSATIONS, f"{BOTS}?limit=1", f"{CONVERSATIONS}?archived=false"):
        first, read = _get(user_client, path)
        again, cached = _get(user_client, path)
        assert read >= 1 and cached == 0, path
        assert again == first


def test_pages_after_a_cursor_or_filtered_by_an_id_are_read_every_time(user, user_client):
    category = make_category()
    for number in range(3):
        make_bot(owner=user, name_en=f"Bot {number}", category=category)
    second_page = user_client.get(f"{BOTS}?limit=2").json()["next"]
    assert second_page and "cursor=" in second_page
    for path in (second_page, f"{BOTS}?category={category.pk}", f"{CONVERSATIONS}?bot={category.pk}"):
        _get(user_client, path)
        assert _get(user_client, path)[1] >= 1, path


@pytest.mark.parametrize(
    "query",
    [
        "?limit=020",
        "?limit=+20",
        "?limit=0",
        "?limit=101",
        "?limit=20&limit=20",
        "?lim%69t=20",
        "?archived=1",
        "?archived=True",
        "?lang=ES",
        "?lang=es-MX",
        "?unknown=1",
    ],
)
def test_only_the_canonical_spelling_of_a_parameter_is_cached(user, user_client, query):
    """Any other spelling is answered as before, read every time: a caller cannot make
    new cache entries without end out of one page."""
    make_bot(owner=user)
    user_client.post(CONVERSATIONS, {"bot": str(make_bot(owner=user).pk)}, format="json")
    for path in (BOTS, CONVERSATIONS):
        response = user_client.get(path + query)
        if response.status_code == 200:
            assert _get(user_client, path + query)[1] >= 1, path + query
        else:
            assert response.status_code == 400, (path + query, response.content)


def test_a_bad_parameter_is_refused_and_stores_nothing(user, user_client):
    user_client.post(CONVERSATIONS, {"bot": str(make_bot(owner=user).pk)}, format="json")
    for _ in range(2):
        response = user_client.get(f"{CONVERSATIONS}?archived=maybe")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert len(_conversations(user_client)) == 1


def test_each_caller_has_their_own_pages(user, other_user, user_client, other_client):
    make_bot(owner=user, name_es="Alice's")
    user_client.post(CONVERSATIONS, {"bot": str(make_bot(owner=user).pk)}, format="json")
    assert "Alice's" in _names(user_client) and _conversations(user_client)
    # The same URLs, another caller: nothing of the first one's pages.
    assert _names(other_client) == []
    assert _conversations(other_client) == {}
    other_client.post(BOTS, {"name": "Bob's"}, format="json")
    assert _names(other_client) == ["Bob's"]
    assert "Bob's" not in _names(user_client)


def test_the_language_of_the_request_picks_its_own_page(user, user_client):
    make_bot(owner=user, name_en="Helper", name_es="Ayudante")
    assert user.language == "es"
    assert _names(user_client) == ["Ayudante"]  # the user's language
    assert [b["name"] for b in user_client.get(BOTS, HTTP_ACCEPT_LANGUAGE="en").json()["results"]] == [
        "Helper"
    ]
    assert [b["name"] for b in user_client.get(f"{BOTS}?lang=en").json()["results"]] == ["Helper"]
    assert _names(user_client) == ["Ayudante"]


def test_the_bot_list_shows_every_write_from_the_next_request(user, user_client, admin_client_api):
    assert _names(user_client) == []
    bot_id = user_client.post(BOTS, {"name": "First", "language": "en"}, format="json").json()["id"]
    assert _names(user_client) == ["First"]
    assert user_client.patch(f"{BOTS}/{bot_id}", {"name": "Renamed"}, format="json").status_code == 200
    assert _names(user_client) == ["Renamed"]

    def providers() -> list[str]:
        [bot] = user_client.get(BOTS).json()["results"]
        return sorted(config["model_id"] for config in bot["model_configs"])

    before = providers()
    added = user_client.post(
        f"{BOTS}/{bot_id}/models", {"provider": "local", "model_id": "second"}, format="json"
    ).json()
    assert providers() == sorted([*before, "second"])
    url = f"{BOTS}/{bot_id}/models/{added['id']}"
    assert user_client.patch(url, {"model_id": "third"}, format="json").status_code == 200
    assert providers() == sorted([*before, "third"])
    assert user_client.delete(url).status_code == 204
    assert providers() == before

    # A category, and another owner's public bot, show in everyone's list.
    category_id = admin_client_api.post(
        "/api/v1/categories", {"name_es": "Trabajo", "name_en": "Work"}, format="json"
    ).json()["id"]
    user_client.patch(f"{BOTS}/{bot_id}", {"category": category_id}, format="json")
    assert user_client.get(BOTS).json()["results"][0]["category"]["name"] == "Trabajo"
    admin_client_api.patch(f"/api/v1/categories/{category_id}", {"name_es": "Empleo"}, format="json")
    assert user_client.get(BOTS).json()["results"][0]["category"]["name"] == "Empleo"
    admin_client_api.delete(f"/api/v1/categories/{category_id}")
    assert user_client.get(BOTS).json()["results"][0]["category"] is None
    agent = admin_client_api.post(BOTS, {"name": "Agent", "language": "en"}, format="json").json()["id"]
    assert _names(user_client) == ["Renamed"]  # a platform agent, not public yet
    admin_client_api.patch(f"{BOTS}/{agent}", {"is_public": True}, format="json")
    assert sorted(_names(user_client)) == ["Agent", "Renamed"]
    assert user_client.delete(f"{BOTS}/{bot_id}").status_code == 204
    assert _names(user_client) == ["Agent"]


def test_a_new_role_shows_in_the_bot_list_at_the_next_request(user, admin_user, user_client):
    make_bot(owner=None, is_public=False, name_es="Borrador")
    assert _names(user_client) == []
    user_admin_update(actor=admin_user, user=user, role="manager")  # staff see drafts
    assert _names(user_client) == ["Borrador"]


def test_the_conversation_list_shows_every_write_from_the_next_request(user, user_client):
    bot = make_bot(owner=user)
    created = user_client.post(CONVERSATIONS, {"bot": str(bot.pk)}, format="json").json()
    url = f"{CONVERSATIONS}/{created['id']}"
    assert _conversations(user_client)[created["id"]]["message_count"] == 0

    token = auth_tokens_issue(user=user).access
    for turn in range(1, 3):
        status, _, events = stream_chat(
            token, {"bot": str(bot.pk), "conversation": created["id"], "message": f"Question {turn}?"}
        )
        assert status == 200 and events[-1]["type"] == "done", events
        row = _conversations(user_client)[created["id"]]
        assert row["message_count"] == 2 * turn
        assert row["last_message_at"] is not None
    user_client.patch(url, {"title": "Renamed"}, format="json")
    assert _conversations(user_client)[created["id"]]["title"] == "Renamed"
    user_client.post(f"{url}/archive", {"archived": True}, format="json")
    assert _conversations(user_client)[created["id"]]["archived"] is True
    assert created["id"] not in {
        row["id"] for row in user_client.get(f"{CONVERSATIONS}?archived=false").json()["results"]
    }
    user_client.post(f"{url}/archive", {"archived": False}, format="json")
    assert created["id"] in {
        row["id"] for row in user_client.get(f"{CONVERSATIONS}?archived=false").json()["results"]
    }
    assert user_client.delete(url).status_code == 204
    assert _conversations(user_client) == {}


def test_a_conversation_started_by_a_chat_turn_shows_at_the_next_request(user, user_client):
    bot = make_bot(owner=user)
    assert _conversations(user_client) == {}
    token = auth_tokens_issue(user=user).access
    status, _, events = stream_chat(token, {"bot": str(bot.pk), "message": "Hello?"})
    assert status == 200
    [row] = _conversations(user_client).values()
    assert row["message_count"] == 2 and row["id"] == events[0]["conversation_id"]


def test_the_stored_answer_moves_the_time_that_a_page_read_meanwhile_showed(user, user_client, settings):
    """A follow-up question shows in the list while the model is still answering (on
    PostgreSQL its writes go out while the model is asked), and that page is not served
    again once the answer is stored: the answer moves `last_message_at`."""
    settings.OPENAI_COMPATIBLE_API_KEY = "test-key"
    settings.PROVIDER_TIMEOUT_SECONDS = 10
    bot = make_bot(owner=user, configs=[{"provider": "openai_compatible", "model_id": "hold-after-first"}])
    token = auth_tokens_issue(user=user).access
    conversation = user_client.post(CONVERSATIONS, {"bot": str(bot.pk)}, format="json").json()["id"]
    assert _conversations(user_client)[conversation]["message_count"] == 0  # cached now
    with FakeServer(OpenAIHandler) as fake, asgi_server() as base_url:
        settings.OPENAI_COMPATIBLE_BASE_URL = f"{fake.url}/v1"
        with (
            httpx.Client(timeout=10) as client,
            client.stream(
                "POST",
                f"{base_url}/api/v1/chat",
                json={"bot": str(bot.pk), "conversation": conversation, "message": "Refunds?"},
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            lines = response.iter_lines()
            for line in lines:
                if line.startswith("data: ") and json.loads(line[6:])["type"] == "delta":
                    break
            while_answering = _conversations(user_client)[conversation]  # cached again
            assert while_answering["message_count"] == 2
            fake.release()
            assert any(line.startswith("data: ") and '"type":"done"' in line for line in lines)
    answered = _conversations(user_client)[conversation]
    assert answered["last_message_at"] > while_answering["last_message_at"]


@pytest.mark.postgres
@pytest.mark.redis
def test_writes_in_another_process_show_here_at_the_next_request(user, user_client):
    """The pages live in Redis, shared by every web process: a change made through the
    services in another process (an admin's, a worker's) holds here at once."""
    bot = make_bot(owner=user, name_es="Antes")
    conversation = user_client.post(CONVERSATIONS, {"bot": str(bot.pk)}, format="json").json()["id"]
    assert _names(user_client) == ["Antes"] and _conversations(user_client)[conversation]["title"]
    in_another_process(
        f"""
        from accounts.models import User
        from bots.models import Bot
        from bots.services import bot_update
        from chat.models import Conversation
        from chat.services.conversations import conversation_rename
        bot_update(user=User.objects.get(pk="{user.pk}"), bot=Bot.objects.get(pk="{bot.pk}"), name_es="Después")
        conversation_rename(conversation=Conversation.objects.get(pk="{conversation}"), title="Elsewhere")
        """
    )
    assert _names(user_client) == ["Después"]
    assert _conversations(user_client)[conversation]["title"] == "Elsewhere"

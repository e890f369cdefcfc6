"""What the chat path reads from the cache (issue 16) - the user and plan authentication
loads, API keys, the bot with its model configs and whether it has knowledge - and that a
change made through the services or the admin holds from the very next request."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.models import Plan, UserStatus
from accounts.services import auth_tokens_issue
from accounts.tests.factories import make_user
from bots import services as bot_services
from bots.knowledge import search as search_module
from bots.models import Document, ModelEndpoint
from bots.tests.factories import make_bot
from chat.services.api_keys import api_key_create, api_key_revoke
from chat.tests.helpers import add_knowledge, stream_chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def token(user):
    return auth_tokens_issue(user=user).access


@pytest.fixture
def bot(user):
    return make_bot(owner=user)


def _chat(token: str, bot, message: str = "Hello?") -> tuple[int, list[dict]]:
    status, _, events = stream_chat(token, {"bot": str(bot.pk), "message": message})
    return status, events


def _done(events: list[dict]) -> dict:
    assert events[-1]["type"] == "done", events
    return events[-1]


def _me(token: str) -> int:
    return Client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def _plan_form(plan: Plan, **changes) -> dict:
    fields = [
        "name",
        "max_bots",
        "max_conversations_per_bot",
        "max_active_conversations",
        "max_messages_per_conversation",
        "messages_per_minute",
        "monthly_token_quota",
    ]
    data = {name: "" if getattr(plan, name) is None else getattr(plan, name) for name in fields}
    data["is_default"] = "on" if plan.is_default else ""
    return {**data, **changes}


# --- The user and plan ---------------------------------------------------------------------
def test_authentication_reads_the_user_and_plan_once_then_from_the_cache(
    token, user, django_assert_num_queries
):
    assert _me(token) == 200
    with django_assert_num_queries(0):
        assert _me(token) == 200


def test_a_turn_finds_its_user_and_bot_in_one_cache_lookup(token, user, bot, monkeypatch):
    """Authentication's lookup also fetches the bot (and the default plan) announced ahead."""
    from django.core.cache import cache

    assert _chat(token, bot)[0] == 200  # everything cached
    lookups = []
    real = cache.get_many

    def get_many(keys, *args, **kwargs):
        lookups.append(list(keys))
        return real(keys, *args, **kwargs)

    monkeypatch.setattr(cache, "get_many", get_many)
    status, events = _chat(token, bot)
    assert status == 200 and _done(events)
    [lookup] = [keys for keys in lookups if any(key.startswith("entry:") for key in keys)]
    assert f"entry:auth-user:{user.pk}" in lookup and f"entry:chat-bot:{bot.pk}" in lookup


def test_a_suspension_holds_from_the_next_request(token, user, admin_user, bot):
    assert _me(token) == 200 and _chat(token, bot)[0] == 200
    account_services.user_set_status(actor=admin_user, user=user, status=UserStatus.SUSPENDED)
    assert _me(token) == 401
    assert _chat(token, bot)[0] == 401
    account_services.user_set_status(actor=admin_user, user=user, status=UserStatus.ACTIVE)
    assert _me(token) == 200


def test_a_plan_given_to_the_user_holds_from_the_next_turn(token, user, admin_user, bot):
    assert _chat(token, bot)[0] == 200
    stingy = Plan.objects.create(name="No tokens left", monthly_token_quota=0)
    account_services.user_admin_update(actor=admin_user, user=user, plan=stingy)
    status, events = _chat(token, bot)
    assert (status, events[0]["error"]["code"]) == (429, "TOKEN_QUOTA_EXCEEDED")


def test_a_plan_changed_in_the_admin_holds_from_every_users_next_turn(admin_browser, bot, user, token):
    plan = Plan.objects.create(name="Generous", messages_per_minute=100)
    account_services.user_admin_update(actor=make_user(role="admin"), user=user, plan=plan)
    assert _chat(token, bot)[0] == 200
    response = admin_browser.post(
        f"/admin/accounts/plan/{plan.pk}/change/", _plan_form(plan, messages_per_minute=1)
    )
    assert response.status_code == 302
    status, events = _chat(token, bot)
    assert (status, events[0]["error"]["code"]) == (429, "RATE_LIMIT_EXCEEDED")


def test_the_default_plan_changed_in_the_admin_holds_for_users_without_a_plan(
    admin_browser, bot, user, token
):
    from accounts.models import User

    User.objects.filter(pk=user.pk).update(plan=None)  # set up before any request
    assert _chat(token, bot)[0] == 200  # the default plan's limits, now cached
    default = Plan.objects.get(is_default=True)
    response = admin_browser.post(
        f"/admin/accounts/plan/{default.pk}/change/", _plan_form(default, monthly_token_quota=0)
    )
    assert response.status_code == 302
    status, events = _chat(token, bot)
    assert (status, events[0]["error"]["code"]) == (429, "TOKEN_QUOTA_EXCEEDED")


def test_a_user_deleted_in_the_admin_is_refused_at_the_next_request(admin_browser, token, user):
    assert _me(token) == 200
    response = admin_browser.post(f"/admin/accounts/user/{user.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert _me(token) == 401


def test_a_profile_change_shows_at_the_next_request(token, user):
    assert _me(token) == 200
    account_services.user_update_profile(user=user, full_name="Renamed Person")
    body = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert body["full_name"] == "Renamed Person"


# --- API keys ------------------------------------------------------------------------------
def _ask(secret: str, bot):
    body = {"model": str(bot.pk), "messages": [{"role": "user", "content": "Hello"}]}
    return Client().post(
        "/openai/v1/chat/completions",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )


def test_a_revoked_key_and_a_suspended_owner_are_refused_at_the_next_request(user, admin_user, bot):
    first, second = api_key_create(user=user, name="one"), api_key_create(user=user, name="two")
    assert _ask(first.secret, bot).status_code == 200
    assert _ask(second.secret, bot).status_code == 200
    api_key_revoke(key=first.key)
    assert _ask(first.secret, bot).status_code == 401
    assert _ask(second.secret, bot).status_code == 200
    account_services.user_set_status(actor=admin_user, user=user, status=UserStatus.SUSPENDED)
    assert _ask(second.secret, bot).status_code == 401


# --- The bot, its model configs and its knowledge ----------------------------------------
def test_a_model_config_changed_by_its_service_answers_the_next_turn(token, bot):
    assert _done(_chat(token, bot)[1])["model"] == "local"
    config = bot.model_configs.get()
    bot_services.model_config_update(config=config, model_id="local-renamed")
    assert _done(_chat(token, bot)[1])["model"] == "local-renamed"


def test_a_model_added_and_the_first_removed_by_their_services_answer_the_next_turn(token, bot):
    assert _done(_chat(token, bot)[1])["model"] == "local"
    old = bot.model_configs.get()
    bot_services.model_config_add(bot=bot, provider="local", model_id="second", priority=2)
    bot_services.model_config_remove(config=old)
    assert _done(_chat(token, bot)[1])["model"] == "second"


def test_a_deleted_bot_and_a_bot_made_private_are_not_found_at_the_next_turn(token, user, admin_user):
    mine = make_bot(owner=user)
    public = make_bot(owner=None, is_public=True)
    assert _chat(token, mine)[0] == 200 and _chat(token, public)[0] == 200
    bot_services.bot_delete(bot=mine)
    bot_services.bot_update(user=admin_user, bot=public, is_public=False)
    assert _chat(token, mine)[0] == 404
    assert _chat(token, public)[0] == 404


def test_a_public_bot_whose_owner_is_deleted_is_not_found_at_the_next_turn(token, admin_browser):
    owner = make_user(email="owner@example.com")
    public = make_bot(owner=owner, is_public=True)
    assert _chat(token, public)[0] == 200
    response = admin_browser.post(f"/admin/accounts/user/{owner.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert _chat(token, public)[0] == 404


def test_an_endpoint_switched_off_in_the_admin_is_skipped_from_the_next_turn(
    admin_browser, token, user, settings
):
    endpoint = ModelEndpoint.objects.create(
        name="Ollama", provider="openai_compatible", base_url="http://x/v1"
    )
    bot = make_bot(
        owner=user,
        configs=[
            {"provider": "openai_compatible", "model_id": "served", "endpoint": endpoint, "priority": 1},
            {"provider": "local", "model_id": "local", "priority": 2},
        ],
    )
    from bots.selectors import bot_get_for_chat

    assert [config.model_id for config in bot_get_for_chat(user=user, bot_id=bot.pk)[1]] == [
        "served",
        "local",
    ]
    response = admin_browser.post(
        f"/admin/bots/modelendpoint/{endpoint.pk}/change/",
        {"name": "Ollama", "provider": "openai_compatible", "base_url": "http://x/v1", "api_key": ""},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active is False
    assert [config.model_id for config in bot_get_for_chat(user=user, bot_id=bot.pk)[1]] == ["local"]
    assert _done(_chat(token, bot)[1])["model"] == "local"


def test_search_runs_from_the_turn_after_a_document_is_indexed_and_stops_once_it_is_deleted(
    token, bot, monkeypatch
):
    searches = []
    real_search = search_module.search

    def counting_search(*args, **kwargs):
        searches.append(args[1])
        return real_search(*args, **kwargs)

    monkeypatch.setattr(search_module, "search", counting_search)
    _chat(token, bot, "Office hours?")
    assert searches == []  # nothing to search: skipped
    document = add_knowledge(bot, "hours.md", "Office hours. Open from 9:00 to 17:00.")
    _, events = _chat(token, bot, "Office hours?")
    assert searches == ["Office hours?"]
    assert events[-2]["citations"][0]["source_name"] == "hours.md"
    bot_services.document_delete(document=Document.objects.get(pk=document.pk))
    _chat(token, bot, "Office hours?")
    assert searches == ["Office hours?"]

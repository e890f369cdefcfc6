"""An attacker's model server: it must never see a platform key, and a URL that passed at
save but resolves internally at chat time is never connected to.

The attacker listens on 127.0.0.1, which the tests allow through MODEL_BASE_URL_ALLOWED_HOSTS
(or reach through a stubbed resolver); nothing connects anywhere else."""

from __future__ import annotations

import json
import socket

import pytest

from accounts.services import auth_tokens_issue
from bots.models import ModelEndpoint
from bots.tests.factories import make_bot
from chat.models import Run
from chat.tests.fakes.llm_servers import FakeServer, GeminiHandler, OpenAIHandler
from chat.tests.helpers import stream_chat

pytestmark = pytest.mark.django_db

PLATFORM_KEYS = {
    "OPENAI_API_KEY": "sk-platform-openai-SECRET-1111",
    "GEMINI_API_KEY": "platform-gemini-SECRET-2222",
    "OPENAI_COMPATIBLE_API_KEY": "platform-compatible-SECRET-3333",
}
USER_KEY = "sk-users-own-key-0123456789abcd"
HANDLERS = {"openai": OpenAIHandler, "openai_compatible": OpenAIHandler, "gemini": GeminiHandler}


@pytest.fixture(autouse=True)
def platform(settings):
    """The platform's keys, and its endpoints on a port nothing listens on."""
    for name, value in PLATFORM_KEYS.items():
        setattr(settings, name, value)
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    settings.OPENAI_COMPATIBLE_BASE_URL = "http://127.0.0.1:9/v1"
    settings.GEMINI_BASE_URL = "http://127.0.0.1:9"
    settings.MODEL_BASE_URL_ALLOWED_HOSTS = []
    settings.PROVIDER_TIMEOUT_SECONDS = 5


@pytest.fixture
def token(user):
    return auth_tokens_issue(user=user).access


def _base_url(provider: str, server: FakeServer, host: str | None = None) -> str:
    url = server.url if host is None else server.url.replace("127.0.0.1", host)
    return url if provider == "gemini" else f"{url}/v1"


def _everything_sent(server: FakeServer) -> str:
    return "\n".join(json.dumps([r.path, r.headers, r.body]) for r in server.requests)


def _chat(token, bot) -> list[dict]:
    status, _, events = stream_chat(token, {"bot": str(bot.pk), "message": "How long do refunds take?"})
    assert status == 200
    return events


@pytest.mark.parametrize("provider", ["openai", "openai_compatible", "gemini"])
def test_a_config_with_its_own_base_url_never_gets_a_platform_key(settings, token, user, provider):
    settings.MODEL_BASE_URL_ALLOWED_HOSTS = ["127.0.0.1"]
    with FakeServer(HANDLERS[provider]) as attacker:
        bot = make_bot(
            owner=user,
            configs=[{"provider": provider, "model_id": "ok", "base_url": _base_url(provider, attacker)}],
        )
        events = _chat(token, bot)

    assert events[-1]["type"] == "done", events[-1]
    assert len(attacker.requests) == 1
    sent = _everything_sent(attacker)
    for key in PLATFORM_KEYS.values():
        assert key not in sent


@pytest.mark.parametrize("provider", ["openai", "openai_compatible", "gemini"])
def test_the_users_own_key_goes_to_the_users_own_url(settings, user_client, token, user, provider):
    settings.MODEL_BASE_URL_ALLOWED_HOSTS = ["127.0.0.1"]
    bot = make_bot(owner=user)
    with FakeServer(HANDLERS[provider]) as attacker:
        created = user_client.post(
            f"/api/v1/bots/{bot.pk}/models",
            {
                "provider": provider,
                "model_id": "ok",
                "base_url": _base_url(provider, attacker),
                "api_key": USER_KEY,
            },
            format="json",
        )
        assert created.status_code == 201, created.json()
        bot.model_configs.filter(provider="local").delete()
        events = _chat(token, bot)

    assert events[-1]["type"] == "done", events[-1]
    [request] = attacker.requests
    header = "x-goog-api-key" if provider == "gemini" else "authorization"
    assert request.headers[header] in (USER_KEY, f"Bearer {USER_KEY}")
    sent = _everything_sent(attacker)
    for key in PLATFORM_KEYS.values():
        assert key not in sent


def test_a_platform_endpoint_gets_its_own_key_at_its_internal_url(user_client, token, user):
    """Operator-set: no allow-list needed, and the endpoint's key, not a platform one."""
    bot = make_bot(owner=user)
    with FakeServer(OpenAIHandler) as house_server:
        endpoint = ModelEndpoint(
            name="House", provider="openai_compatible", base_url=f"{house_server.url}/v1"
        )
        endpoint.set_api_key("house-key-0123456789")
        endpoint.save()
        created = user_client.post(
            f"/api/v1/bots/{bot.pk}/models",
            {"provider": "openai_compatible", "model_id": "ok", "endpoint": str(endpoint.pk)},
            format="json",
        )
        assert created.status_code == 201, created.json()
        bot.model_configs.filter(provider="local").delete()
        events = _chat(token, bot)

    assert events[-1]["type"] == "done", events[-1]
    [request] = house_server.requests
    assert request.headers["authorization"] == "Bearer house-key-0123456789"


def test_a_name_that_turns_internal_after_the_save_is_not_connected_to(
    user_client, token, user, fake_dns, monkeypatch
):
    """DNS rebinding: public when saved, loopback when chatting. The chat fails over to the
    next model and the run records the refusal; the attacker sees nothing."""
    fake_dns["llm.example.com"] = ["93.184.216.34"]
    bot = make_bot(owner=user, configs=[{"provider": "local", "model_id": "local", "priority": 2}])
    with FakeServer(OpenAIHandler) as attacker:
        port = int(attacker.url.rsplit(":", 1)[1])
        created = user_client.post(
            f"/api/v1/bots/{bot.pk}/models",
            {
                "provider": "openai_compatible",
                "model_id": "ok",
                "base_url": f"http://llm.example.com:{port}/v1",
                "api_key": USER_KEY,
                "priority": 1,
            },
            format="json",
        )
        assert created.status_code == 201, created.json()

        # The name now points at loopback, for our check and for any resolver at all.
        fake_dns["llm.example.com"] = ["127.0.0.1"]
        real_getaddrinfo = socket.getaddrinfo

        def rebound(host, *args, **kwargs):
            if host == "llm.example.com":
                return real_getaddrinfo("127.0.0.1", *args, **kwargs)
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", rebound)
        events = _chat(token, bot)

    assert attacker.requests == []
    assert events[-1]["type"] == "done" and events[-1]["provider"] == "local"
    run = Run.objects.get()
    [attempt] = run.failed_attempts
    assert attempt["provider"] == "openai_compatible" and attempt["code"] == "unavailable"
    assert "Refused to connect" in attempt["message"]

"""Who may point a bot's model where, with which key: the save side, on every surface.

The connect side (an attacker's server never sees a platform key, a DNS change after the
save) is in chat/tests/test_model_secrets.py. Names resolve through `fake_dns`."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from bots.models import ModelConfig, ModelEndpoint
from bots.tests.factories import make_bot
from bytchat import crypto
from bytchat.compat.bytchat_v1.tests.helpers import token_for
from bytchat.panel.tests.conftest import session_for

pytestmark = pytest.mark.django_db

USER_KEY = "sk-users-own-key-0123456789abcd"
LOOPBACK = "http://127.0.0.1:11434/v1"


@pytest.fixture
def bot(user):
    return make_bot(owner=user)


def _native_models_url(bot) -> str:
    return f"/api/v1/bots/{bot.pk}/models"


def v1_client(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


# --- A loopback URL is refused at save, on every surface -----------------------------------
def test_the_native_api_refuses_a_loopback_base_url(user_client, bot):
    response = user_client.post(
        _native_models_url(bot), {"provider": "openai", "model_id": "m", "base_url": LOOPBACK}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "base_url" in response.json()["error"]["fields"]
    assert bot.model_configs.count() == 1


def test_a_patch_cannot_move_a_config_to_an_internal_host(user_client, bot, fake_dns):
    fake_dns["llm.example.com"] = ["93.184.216.34"]
    created = user_client.post(
        _native_models_url(bot),
        {"provider": "openai_compatible", "model_id": "m", "base_url": "https://llm.example.com/v1"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    url = f"{_native_models_url(bot)}/{created.json()['id']}"

    response = user_client.patch(url, {"base_url": "http://169.254.169.254/latest"}, format="json")

    assert response.status_code == 400
    assert "base_url" in response.json()["error"]["fields"]
    assert ModelConfig.objects.get(pk=created.json()["id"]).base_url == "https://llm.example.com/v1"


def test_initial_configs_refuse_a_loopback_base_url_and_store_nothing(user_client):
    response = user_client.post(
        "/api/v1/bots",
        {"name": "Thief", "initial_configs": [{"provider": "openai", "model_id": "m", "base_url": LOOPBACK}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["initial_configs"][0]["base_url"]
    assert ModelConfig.objects.count() == 0


def test_bytchat_v1_refuses_a_loopback_base_url_in_its_error_format(user, bot):
    client = v1_client(user)

    response = client.post(
        f"/bots/{bot.pk}/models/",
        {"provider": "openai", "model_id": "m", "base_url": LOOPBACK},
        format="json",
    )
    created = client.post(
        "/bots/",
        {"name": "Thief", "initial_configs": [{"provider": "google", "model_id": "g", "base_url": LOOPBACK}]},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"detail"} and response.json()["detail"].startswith("base_url: ")
    assert created.status_code == 400
    assert "initial_configs.0.base_url: " in created.json()["detail"]
    assert ModelConfig.objects.count() == 1


def test_the_panel_refuses_a_loopback_base_url(user, bot):
    panel = session_for(user)

    response = panel.post(
        reverse("panel:api-bot-models", args=[bot.pk]),
        {"provider": "openai_compatible", "model_id": "m", "base_url": LOOPBACK},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "base_url" in response.json()["error"]["fields"]
    assert bot.model_configs.count() == 1


def test_a_name_resolving_to_a_private_address_is_refused(user_client, bot, fake_dns):
    fake_dns["sneaky.example.com"] = ["10.20.30.40"]
    response = user_client.post(
        _native_models_url(bot),
        {"provider": "openai", "model_id": "m", "base_url": "https://sneaky.example.com/v1"},
        format="json",
    )
    assert response.status_code == 400
    assert "base_url" in response.json()["error"]["fields"]


def test_the_allow_list_lets_the_operators_internal_host_through(user_client, bot, settings):
    settings.MODEL_BASE_URL_ALLOWED_HOSTS = ["127.0.0.1:11434"]
    response = user_client.post(
        _native_models_url(bot), {"provider": "openai", "model_id": "m", "base_url": LOOPBACK}, format="json"
    )
    assert response.status_code == 201, response.json()


# --- The key is write-only, shown as a hint, encrypted at rest ----------------------------
@pytest.fixture
def keyed_config(user_client, bot, fake_dns):
    fake_dns["llm.example.com"] = ["93.184.216.34"]
    response = user_client.post(
        _native_models_url(bot),
        {
            "provider": "openai_compatible",
            "model_id": "m",
            "base_url": "https://llm.example.com/v1",
            "api_key": USER_KEY,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert "api_key" not in response.json()
    assert response.json()["api_key_hint"] == "sk-…abcd"
    assert USER_KEY not in response.content.decode()
    return ModelConfig.objects.get(pk=response.json()["id"])


def test_the_key_is_never_returned_by_any_surface(user, user_client, bot, keyed_config):
    panel = session_for(user)
    v1 = v1_client(user)
    responses = [
        user_client.get(_native_models_url(bot)),
        user_client.get(f"/api/v1/bots/{bot.pk}"),
        user_client.get("/api/v1/bots"),
        user_client.patch(f"{_native_models_url(bot)}/{keyed_config.pk}", {"priority": 2}, format="json"),
        v1.get("/bots/"),
        v1.post(
            f"/bots/{bot.pk}/models/",
            {"provider": "openai", "model_id": "x", "api_key": USER_KEY},
            format="json",
        ),
        panel.get(reverse("panel:api-bot-models", args=[bot.pk])),
        panel.get(reverse("panel:bot-edit", args=[bot.pk])),
    ]
    for response in responses:
        assert response.status_code == 200, response.content
        body = response.content.decode()
        assert USER_KEY not in body
        assert "0123456789" not in body
        assert '"api_key":' not in body
    assert "sk-…abcd" in responses[0].content.decode()


def test_the_schema_marks_the_key_write_only(api_client):
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]

    assert components["ModelConfigWriteRequest"]["properties"]["api_key"]["writeOnly"] is True
    assert components["PatchedModelConfigWriteRequest"]["properties"]["api_key"]["writeOnly"] is True
    assert "api_key" not in components["ModelConfig"]["properties"]
    assert components["ModelConfig"]["properties"]["api_key_hint"]["readOnly"] is True


def test_the_key_is_stored_encrypted(keyed_config):
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key_encrypted FROM bots_modelconfig WHERE id = %s", [keyed_config.pk.hex])
        row = cursor.fetchone()
        if row is None:  # PostgreSQL stores the UUID natively
            cursor.execute("SELECT api_key_encrypted FROM bots_modelconfig WHERE id = %s", [keyed_config.pk])
            row = cursor.fetchone()
    stored = row[0]
    assert stored and USER_KEY not in stored and "0123456789" not in stored
    assert crypto.decrypt(stored) == USER_KEY


def test_a_blank_key_removes_it_and_a_missing_one_keeps_it(user_client, bot, keyed_config):
    url = f"{_native_models_url(bot)}/{keyed_config.pk}"

    kept = user_client.patch(url, {"model_id": "other"}, format="json")
    removed = user_client.patch(url, {"api_key": ""}, format="json")

    assert kept.json()["api_key_hint"] == "sk-…abcd"
    assert removed.json()["api_key_hint"] == ""
    keyed_config.refresh_from_db()
    assert keyed_config.api_key_encrypted == "" and keyed_config.get_api_key() == ""


def test_another_user_can_neither_see_nor_change_the_config(other_client, bot, keyed_config):
    url = f"{_native_models_url(bot)}/{keyed_config.pk}"

    assert other_client.get(_native_models_url(bot)).status_code == 404
    assert other_client.get(f"/api/v1/bots/{bot.pk}").status_code == 404
    assert (
        other_client.patch(url, {"base_url": "https://evil.example.com/v1"}, format="json").status_code == 404
    )
    keyed_config.refresh_from_db()
    assert keyed_config.base_url == "https://llm.example.com/v1"


def test_users_of_a_public_agent_do_not_see_its_configs_or_key_hint(admin_client_api, other_client, fake_dns):
    fake_dns["llm.example.com"] = ["93.184.216.34"]
    created = admin_client_api.post(
        "/api/v1/bots",
        {
            "name": "Public",
            "platform": True,
            "is_public": True,
            "initial_configs": [
                {
                    "provider": "openai",
                    "model_id": "m",
                    "base_url": "https://llm.example.com/v1",
                    "api_key": USER_KEY,
                }
            ],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()

    seen = other_client.get(f"/api/v1/bots/{created.json()['id']}")

    assert seen.status_code == 200
    assert "model_configs" not in seen.json()
    assert "…abcd" not in seen.content.decode()


# --- Platform endpoints -------------------------------------------------------------------
@pytest.fixture
def endpoint(db):
    endpoint = ModelEndpoint(
        name="House Ollama", provider="openai_compatible", base_url="http://ollama:11434/v1"
    )
    endpoint.set_api_key("house-key-0123456789")
    endpoint.save()
    return endpoint


def test_users_list_endpoints_by_name_without_url_or_key(user_client, endpoint):
    ModelEndpoint.objects.create(name="Off", provider="openai", base_url="http://x:1/v1", is_active=False)

    response = user_client.get("/api/v1/model-endpoints")

    assert response.status_code == 200
    assert response.json() == [
        {"id": str(endpoint.pk), "name": "House Ollama", "provider": "openai_compatible"}
    ]


def test_a_config_may_use_an_endpoint_with_an_internal_url(user_client, bot, endpoint):
    response = user_client.post(
        _native_models_url(bot),
        {"provider": "openai_compatible", "model_id": "llama3.1", "endpoint": str(endpoint.pk)},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["endpoint"] == str(endpoint.pk)
    assert response.json()["base_url"] == "" and response.json()["api_key_hint"] == ""
    assert "house-key" not in response.content.decode() and "ollama" not in response.content.decode()


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"provider": "openai"}, "endpoint"),
        ({"base_url": "https://llm.example.com/v1"}, "base_url"),
        ({"api_key": "sk-mine-0123456789"}, "api_key"),
    ],
)
def test_an_endpoint_is_used_alone_and_for_its_provider(user_client, bot, endpoint, fake_dns, extra, field):
    fake_dns["llm.example.com"] = ["93.184.216.34"]
    body = {"provider": "openai_compatible", "model_id": "m", "endpoint": str(endpoint.pk), **extra}

    response = user_client.post(_native_models_url(bot), body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_a_switched_off_endpoint_cannot_be_chosen(user_client, bot, endpoint):
    endpoint.is_active = False
    endpoint.save()
    response = user_client.post(
        _native_models_url(bot),
        {"provider": "openai_compatible", "model_id": "m", "endpoint": str(endpoint.pk)},
        format="json",
    )
    assert response.status_code == 400
    assert "endpoint" in response.json()["error"]["fields"]


# --- The admin goes through the same rules ------------------------------------------------
@pytest.fixture
def admin_browser(client, admin_user):
    client.force_login(admin_user)
    return client


def _inline_form(bot, **config):
    existing = bot.model_configs.get()
    data = {
        "name_es": bot.name_es,
        "name_en": bot.name_en,
        "description_es": "",
        "description_en": "",
        "system_prompt": "",
        "language": bot.language,
        "owner": str(bot.owner_id),
        "model_configs-TOTAL_FORMS": "2",
        "model_configs-INITIAL_FORMS": "1",
        "model_configs-MIN_NUM_FORMS": "0",
        "model_configs-MAX_NUM_FORMS": "1000",
        "model_configs-0-id": str(existing.pk),
        "model_configs-0-bot": str(bot.pk),
        "model_configs-0-task_type": "general",
        "model_configs-0-provider": "local",
        "model_configs-0-model_id": "local",
        "model_configs-0-priority": "1",
        "model_configs-0-is_active": "on",
        "model_configs-1-bot": str(bot.pk),
        "model_configs-1-task_type": "general",
        "model_configs-1-priority": "2",
        "model_configs-1-is_active": "on",
        "documents-TOTAL_FORMS": "0",
        "documents-INITIAL_FORMS": "0",
        "documents-MIN_NUM_FORMS": "0",
        "documents-MAX_NUM_FORMS": "1000",
    }
    data.update({f"model_configs-1-{name}": value for name, value in config.items()})
    return data


def test_the_admin_inline_refuses_an_internal_base_url(admin_browser, bot):
    data = _inline_form(bot, provider="openai", model_id="m", base_url="http://169.254.169.254/v1")

    response = admin_browser.post(f"/admin/bots/bot/{bot.pk}/change/", data)

    assert response.status_code == 200  # the form again, with its errors
    assert "public internet address" in response.content.decode()
    assert bot.model_configs.count() == 1


def test_the_admin_inline_stores_a_key_encrypted(admin_browser, bot, fake_dns):
    fake_dns["llm.example.com"] = ["93.184.216.34"]
    data = _inline_form(
        bot, provider="openai", model_id="m", base_url="https://llm.example.com/v1", api_key=USER_KEY
    )

    response = admin_browser.post(f"/admin/bots/bot/{bot.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    config = bot.model_configs.get(provider="openai")
    assert config.api_key_hint == "sk-…abcd" and config.get_api_key() == USER_KEY
    page = admin_browser.get(f"/admin/bots/bot/{bot.pk}/change/").content.decode()
    assert USER_KEY not in page and config.api_key_encrypted not in page


def test_staff_register_an_endpoint_in_the_admin_with_an_encrypted_key(admin_browser):
    response = admin_browser.post(
        "/admin/bots/modelendpoint/add/",
        {
            "name": "vLLM",
            "provider": "openai_compatible",
            "base_url": "http://vllm:8000/v1",
            "api_key": "house-key-0123456789",
            "is_active": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint = ModelEndpoint.objects.get()
    assert endpoint.get_api_key() == "house-key-0123456789"
    assert "house-key" not in endpoint.api_key_encrypted
    page = admin_browser.get(f"/admin/bots/modelendpoint/{endpoint.pk}/change/").content.decode()
    assert "house-key-0123456789" not in page and "hou…6789" in page

import pytest

from bots.models import ModelConfig
from bots.tests.factories import make_bot

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(user):
    return make_bot(owner=user)


def _url(bot, config=None):
    base = f"/api/v1/bots/{bot.pk}/models"
    return f"{base}/{config.pk}" if config else base


def test_an_owner_lists_adds_updates_and_removes_model_configs(user_client, bot):
    added = user_client.post(
        _url(bot), {"provider": "openai", "model_id": "gpt-4o", "task_type": "complex"}, format="json"
    )
    assert added.status_code == 201, added.json()
    assert (added.json()["priority"], added.json()["is_active"]) == (1, True)
    listing = user_client.get(_url(bot))
    assert listing.status_code == 200
    assert {c["model_id"] for c in listing.json()} == {"local", "gpt-4o"}
    config = ModelConfig.objects.get(pk=added.json()["id"])
    updated = user_client.patch(_url(bot, config), {"priority": 3, "max_output_tokens": 800}, format="json")
    assert updated.status_code == 200
    assert (updated.json()["priority"], updated.json()["max_output_tokens"]) == (3, 800)
    assert user_client.delete(_url(bot, config)).status_code == 204
    assert not ModelConfig.objects.filter(pk=config.pk).exists()


def test_removing_or_deactivating_the_last_active_config_is_a_409(user_client, bot):
    [config] = bot.model_configs.all()
    removed = user_client.delete(_url(bot, config))
    assert removed.status_code == 409
    assert removed.json()["error"]["code"] == "LAST_MODEL_CONFIG"
    deactivated = user_client.patch(_url(bot, config), {"is_active": False}, format="json")
    assert deactivated.status_code == 409
    config.refresh_from_db()
    assert config.is_active


def test_an_inactive_config_can_go_even_when_one_active_remains(user_client, bot):
    inactive = bot.model_configs.create(provider="openai", model_id="gpt-4o-mini", is_active=False)
    assert user_client.delete(_url(bot, inactive)).status_code == 204


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"provider": "openai_compatible", "model_id": "m"}, "base_url"),
        ({"provider": "local", "base_url": "https://llm.example.com/v1"}, "base_url"),
        ({"provider": "local", "api_key": "sk-abc"}, "api_key"),
        ({"provider": "openai", "model_id": "m", "base_url": "ftp://x"}, "base_url"),
        ({"provider": "openai"}, "model_id"),
        ({"provider": "openai", "model_id": "m", "temperature": 3}, "temperature"),
        ({"provider": "openai", "model_id": "m", "priority": 0}, "priority"),
        ({"provider": "openai", "model_id": "m", "task_type": "huge"}, "task_type"),
    ],
)
def test_invalid_configs_are_refused(user_client, bot, payload, field):
    response = user_client.post(_url(bot), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert bot.model_configs.count() == 1


def test_an_update_is_checked_against_the_stored_config(user_client, bot):
    config = bot.model_configs.create(
        provider="openai_compatible", model_id="m", base_url="http://vllm:8000/v1"
    )
    assert user_client.patch(_url(bot, config), {"base_url": ""}, format="json").status_code == 400
    assert user_client.patch(_url(bot, config), {"model_id": "other"}, format="json").status_code == 200


def test_it_hides_another_users_bot_models(other_client, bot):
    [config] = bot.model_configs.all()
    assert other_client.get(_url(bot)).status_code == 404
    assert other_client.post(_url(bot), {"provider": "local"}, format="json").status_code == 404
    assert other_client.patch(_url(bot, config), {"priority": 9}, format="json").status_code == 404
    assert other_client.delete(_url(bot, config)).status_code == 404
    config.refresh_from_db()
    assert config.priority == 1


def test_a_config_of_another_bot_is_not_found(user_client, bot, user):
    second = make_bot(owner=user)
    [foreign] = second.model_configs.all()
    assert user_client.patch(_url(bot, foreign), {"priority": 9}, format="json").status_code == 404

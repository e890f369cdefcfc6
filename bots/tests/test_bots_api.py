import pytest

from accounts.models import Plan
from bots.models import Bot, ModelConfig
from bots.tests.factories import make_bot, make_category

pytestmark = pytest.mark.django_db

URL = "/api/v1/bots"


def test_a_user_creates_a_bot_with_one_local_model_by_default(user_client, user):
    response = user_client.post(URL, {"name": "Mi Asistente", "description": "Para pruebas."}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["name"], body["name_es"], body["name_en"], body["language"]) == (
        "Mi Asistente",
        "Mi Asistente",
        "",
        "es",
    )
    assert body["can_edit"] is True and body["is_platform"] is False and body["is_public"] is False
    assert [(c["provider"], c["task_type"], c["is_active"]) for c in body["model_configs"]] == [
        ("local", "general", True)
    ]
    assert Bot.objects.get(pk=body["id"]).owner == user


def test_a_bot_in_one_language_falls_back_to_it_in_the_other(user_client):
    bot_id = user_client.post(URL, {"name": "Pirata", "language": "es"}, format="json").json()["id"]
    assert user_client.get(f"{URL}/{bot_id}?lang=en").json()["name"] == "Pirata"


def test_it_creates_a_bot_with_its_initial_model_configs(user_client, settings):
    settings.MODEL_BASE_URL_ALLOWED_HOSTS = ["ollama:11434"]
    response = user_client.post(
        URL,
        {
            "name": "Multi",
            "initial_configs": [
                {"task_type": "general", "provider": "gemini", "model_id": "gemini-2.5-flash"},
                {
                    "task_type": "complex",
                    "provider": "openai_compatible",
                    "model_id": "llama3.1",
                    "base_url": "http://ollama:11434/v1",
                    "priority": 2,
                    "temperature": 0.2,
                },
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    configs = {c["model_id"]: c for c in response.json()["model_configs"]}
    assert configs["llama3.1"]["base_url"] == "http://ollama:11434/v1"
    assert configs["llama3.1"]["temperature"] == 0.2
    assert set(configs) == {"gemini-2.5-flash", "llama3.1"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "  "}, "name"),
        (
            {"name": "X", "initial_configs": [{"provider": "openai_compatible", "model_id": "m"}]},
            "initial_configs",
        ),
        ({"name": "X", "initial_configs": [{"provider": "openai"}]}, "initial_configs"),
        ({"name": "X", "initial_configs": [{"provider": "nope", "model_id": "m"}]}, "initial_configs"),
        ({"name": "X", "initial_configs": [{"provider": "local", "is_active": False}]}, "initial_configs"),
        ({"name": "X", "language": "fr"}, "language"),
    ],
)
def test_invalid_bots_are_refused_and_nothing_is_stored(user_client, payload, field):
    response = user_client.post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert Bot.objects.count() == 0 and ModelConfig.objects.count() == 0


def test_the_plans_bot_limit_is_a_409_plan_limit(user_client, user):
    user.plan = Plan.objects.create(name="Tiny", max_bots=1)
    user.save()
    assert user_client.post(URL, {"name": "Uno"}, format="json").status_code == 201
    response = user_client.post(URL, {"name": "Dos"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "PLAN_LIMIT"
    assert response.json()["error"]["limit"] == 1
    assert Bot.objects.filter(owner=user).count() == 1


def test_a_deleted_bot_frees_its_place_in_the_plan(user_client, user):
    user.plan = Plan.objects.create(name="Tiny", max_bots=1)
    user.save()
    bot_id = user_client.post(URL, {"name": "Uno"}, format="json").json()["id"]
    assert user_client.delete(f"{URL}/{bot_id}").status_code == 204
    assert user_client.post(URL, {"name": "Dos"}, format="json").status_code == 201


def test_the_list_has_my_bots_and_public_agents_but_not_other_users_private_bots(
    user_client, user, other_user
):
    mine = make_bot(owner=user)
    public = make_bot(owner=None, is_public=True, name_en="Public agent")
    make_bot(owner=other_user)
    make_bot(owner=None, is_public=False)  # a platform draft: staff only
    make_bot(owner=user, is_active=False)
    response = user_client.get(URL)
    assert response.status_code == 200
    ids = {bot["id"] for bot in response.json()["results"]}
    assert ids == {str(mine.pk), str(public.pk)}
    public_body = next(bot for bot in response.json()["results"] if bot["id"] == str(public.pk))
    assert public_body["can_edit"] is False
    assert "system_prompt" not in public_body and "model_configs" not in public_body


def test_the_list_filters_by_category(user_client, user):
    category = make_category()
    inside = make_bot(owner=user, category=category)
    make_bot(owner=user)
    response = user_client.get(f"{URL}?category={category.pk}")
    assert [bot["id"] for bot in response.json()["results"]] == [str(inside.pk)]
    assert response.json()["results"][0]["category"] == {"id": str(category.pk), "name": category.name_es}
    assert user_client.get(f"{URL}?category=not-a-uuid").status_code == 400


def test_staff_also_see_platform_drafts(manager_client):
    draft = make_bot(owner=None, is_public=False)
    assert str(draft.pk) in {bot["id"] for bot in manager_client.get(URL).json()["results"]}


def test_an_owner_updates_their_bot(user_client, user):
    bot = make_bot(owner=user, name_es="Viejo")
    category = make_category()
    response = user_client.patch(
        f"{URL}/{bot.pk}",
        {"system_prompt": "Ahora eres un robot pirata.", "name_en": "Pirate", "category": str(category.pk)},
        format="json",
    )
    assert response.status_code == 200, response.json()
    bot.refresh_from_db()
    assert (bot.system_prompt, bot.name_en, bot.category) == (
        "Ahora eres un robot pirata.",
        "Pirate",
        category,
    )


def test_a_bot_cannot_lose_both_names(user_client, user):
    bot = make_bot(owner=user, name_es="Único", name_en="")
    response = user_client.patch(f"{URL}/{bot.pk}", {"name_es": ""}, format="json")
    assert response.status_code == 400


def test_only_admins_publish_bots_and_create_platform_agents(user_client, admin_client_api, user):
    bot = make_bot(owner=user)
    assert user_client.patch(f"{URL}/{bot.pk}", {"is_public": True}, format="json").status_code == 403
    assert user_client.post(URL, {"name": "X", "platform": True}, format="json").status_code == 403
    assert user_client.post(URL, {"name": "X", "is_public": True}, format="json").status_code == 403
    response = admin_client_api.post(
        URL, {"name_es": "Agente", "name_en": "Agent", "platform": True, "is_public": True}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["is_platform"] is True
    assert Bot.objects.get(pk=response.json()["id"]).owner is None


def test_users_can_use_but_not_change_a_public_agent(user_client):
    agent = make_bot(owner=None, is_public=True)
    assert user_client.get(f"{URL}/{agent.pk}").status_code == 200
    assert user_client.patch(f"{URL}/{agent.pk}", {"name_es": "Mío"}, format="json").status_code == 403
    assert user_client.delete(f"{URL}/{agent.pk}").status_code == 403
    assert user_client.get(f"{URL}/{agent.pk}/models").status_code == 403


def test_an_admin_manages_platform_agents(admin_client_api):
    agent = make_bot(owner=None, is_public=True)
    assert admin_client_api.patch(f"{URL}/{agent.pk}", {"is_public": False}, format="json").status_code == 200
    assert admin_client_api.delete(f"{URL}/{agent.pk}").status_code == 204
    agent.refresh_from_db()
    assert (agent.is_public, agent.is_active) == (False, False)


def test_a_deleted_bot_is_gone_for_everyone(user_client, user):
    bot = make_bot(owner=user)
    assert user_client.delete(f"{URL}/{bot.pk}").status_code == 204
    assert user_client.get(f"{URL}/{bot.pk}").status_code == 404
    assert Bot.objects.filter(pk=bot.pk).exists()


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_it_hides_another_users_private_bot(other_client, user, method):
    bot = make_bot(owner=user)
    response = getattr(other_client, method)(f"{URL}/{bot.pk}", {"name_es": "x"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    bot.refresh_from_db()
    assert bot.is_active and bot.name_es != "x"


def test_staff_do_not_see_a_users_private_bot(admin_client_api, user):
    bot = make_bot(owner=user)
    assert admin_client_api.get(f"{URL}/{bot.pk}").status_code == 404

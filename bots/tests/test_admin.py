import pytest

from accounts.models import Plan
from bots.models import Bot, Document, DocumentStatus
from bots.tests.factories import make_bot, make_category, make_indexed_document, upload_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(client, admin_user):
    client.force_login(admin_user)
    return client


def test_admin_pages_for_bots_documents_chunks_and_categories_load(admin_browser, user):
    bot = make_bot(owner=user, category=make_category())
    document = make_indexed_document(bot=bot, text="Texto del documento.")
    chunk = document.chunks.get()
    for url in [
        "/admin/bots/category/",
        "/admin/bots/bot/",
        f"/admin/bots/bot/{bot.pk}/change/",
        "/admin/bots/document/",
        f"/admin/bots/document/{document.pk}/change/",
        "/admin/bots/chunk/",
        f"/admin/bots/chunk/{chunk.pk}/change/",
    ]:
        assert admin_browser.get(url).status_code == 200, url


def test_chunks_are_read_only_in_the_admin(admin_browser, user):
    document = make_indexed_document(bot=make_bot(owner=user), text="Texto.")
    chunk = document.chunks.get()
    assert admin_browser.get("/admin/bots/chunk/add/").status_code == 403
    assert admin_browser.get(f"/admin/bots/chunk/{chunk.pk}/delete/").status_code == 403


def test_the_reindex_action_queues_and_indexes_documents(
    admin_browser, user, django_capture_on_commit_callbacks
):
    bot = make_bot(owner=user)
    document = upload_document(bot=bot, name="a.txt", content=b"Texto.")
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_browser.post(
            "/admin/bots/document/", {"action": "reindex", "_selected_action": [str(document.pk)]}
        )
    assert response.status_code == 302
    document.refresh_from_db()
    assert (document.status, document.chunk_count) == (DocumentStatus.READY, 1)


def _bot_change_form(bot, **overrides):
    """The POST data of the bot's change page with its one model config."""
    config = bot.model_configs.get()
    data = {
        "name_es": bot.name_es,
        "name_en": bot.name_en,
        "description_es": "",
        "description_en": "",
        "system_prompt": bot.system_prompt,
        "language": bot.language,
        "is_active": "on",
        "owner": str(bot.owner_id),
        "model_configs-TOTAL_FORMS": "1",
        "model_configs-INITIAL_FORMS": "1",
        "model_configs-0-id": str(config.pk),
        "model_configs-0-bot": str(bot.pk),
        "model_configs-0-task_type": config.task_type,
        "model_configs-0-provider": config.provider,
        "model_configs-0-model_id": config.model_id,
        "model_configs-0-priority": str(config.priority),
        "model_configs-0-is_active": "on",
        "documents-TOTAL_FORMS": "0",
        "documents-INITIAL_FORMS": "0",
    }
    return {**data, **overrides}


def test_the_admin_refuses_to_remove_a_bots_last_active_model_config(admin_browser, user):
    bot = make_bot(owner=user)
    response = admin_browser.post(
        f"/admin/bots/bot/{bot.pk}/change/",
        _bot_change_form(bot, **{"model_configs-0-DELETE": "on"}),
        follow=True,
    )
    assert response.status_code == 200
    assert "at least one active model" in response.content.decode()
    assert bot.model_configs.filter(is_active=True).count() == 1


def _bot_add_form(**overrides):
    data = {
        "name_es": "Nuevo",
        "name_en": "",
        "description_es": "",
        "description_en": "",
        "system_prompt": "",
        "language": "es",
    }
    return {**data, **overrides}


def test_a_bot_created_in_the_admin_respects_its_owners_plan(admin_browser, user):
    user.plan = Plan.objects.create(name="One bot", max_bots=1)
    user.save()
    make_bot(owner=user)
    response = admin_browser.post("/admin/bots/bot/add/", _bot_add_form(owner=str(user.pk)), follow=True)
    assert "Your plan allows 1 bots" in response.content.decode()
    assert Bot.objects.filter(owner=user).count() == 1


def test_a_bot_created_in_the_admin_gets_the_default_local_model(admin_browser, user):
    response = admin_browser.post("/admin/bots/bot/add/", _bot_add_form(owner=str(user.pk)))
    assert response.status_code == 302
    bot = Bot.objects.get(owner=user)
    assert list(bot.model_configs.values_list("provider", "model_id", "is_active")) == [
        ("local", "local", True)
    ]


def test_a_platform_agent_created_in_the_admin_can_be_public(admin_browser):
    response = admin_browser.post("/admin/bots/bot/add/", _bot_add_form(is_public="on"))
    assert response.status_code == 302
    bot = Bot.objects.get()
    assert (bot.owner, bot.is_public) == (None, True)


def test_changing_a_bots_language_in_the_admin_reindexes_its_documents(
    admin_browser, user, django_capture_on_commit_callbacks, monkeypatch
):
    from bots import tasks

    bot = make_bot(owner=user, language="es")
    document = make_indexed_document(bot=bot, text="Texto del documento.")
    queued = []
    monkeypatch.setattr(tasks.index_document, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_browser.post(
            f"/admin/bots/bot/{bot.pk}/change/", _bot_change_form(bot, language="en")
        )
    assert response.status_code == 302
    document.refresh_from_db()
    bot.refresh_from_db()
    assert (bot.language, document.status, queued) == ("en", DocumentStatus.PENDING, [str(document.pk)])


def test_the_admin_inline_adds_a_model_through_the_service(admin_browser, user):
    bot = make_bot(owner=user)
    data = _bot_change_form(
        bot,
        **{
            "model_configs-TOTAL_FORMS": "2",
            "model_configs-1-bot": str(bot.pk),
            "model_configs-1-task_type": "general",
            "model_configs-1-provider": "local",
            "model_configs-1-model_id": "local",
            "model_configs-1-priority": "5",
            "model_configs-1-is_active": "on",
        },
    )
    response = admin_browser.post(f"/admin/bots/bot/{bot.pk}/change/", data)
    assert response.status_code == 302
    assert sorted(bot.model_configs.values_list("model_id", "priority")) == [("local", 1), ("local", 5)]


def test_deleting_a_bot_or_category_in_the_admin_is_a_soft_delete(admin_browser, user):
    category = make_category()
    bot = make_bot(owner=user, category=category)
    admin_browser.post(f"/admin/bots/bot/{bot.pk}/delete/", {"post": "yes"})
    admin_browser.post(f"/admin/bots/category/{category.pk}/delete/", {"post": "yes"})
    bot.refresh_from_db()
    category.refresh_from_db()
    assert (bot.is_active, category.is_active) == (False, False)


def test_a_category_changed_in_the_admin_shows_in_the_bot_list_at_once(admin_browser, user, user_client):
    """The first page of the bot list is cached; the admin's saves forget it, from its
    form and from the list's editable column alike."""
    category = make_category(name_es="Trabajo", name_en="Work")
    make_bot(owner=user, category=category)

    def shown():
        [bot] = user_client.get("/api/v1/bots").json()["results"]
        return bot["category"] and bot["category"]["name"]

    assert shown() == "Trabajo"  # cached now
    form = {
        "name_es": "Empleo",
        "name_en": "Work",
        "description_es": "",
        "description_en": "",
        "icon": "",
        "display_order": 0,
        "is_active": "on",
    }
    response = admin_browser.post(f"/admin/bots/category/{category.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    assert shown() == "Empleo"
    changelist = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(category.pk),
        "form-0-display_order": "0",
        "_save": "Save",
    }  # is_active left unticked: the category is switched off
    assert admin_browser.post("/admin/bots/category/", changelist).status_code == 302
    assert shown() is None

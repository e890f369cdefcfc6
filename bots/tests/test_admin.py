import pytest

from bots.models import Document, DocumentStatus
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

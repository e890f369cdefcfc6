from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from bots import services
from bots.errors import DocumentBusy
from bots.knowledge.search import search
from bots.models import Chunk, Document, DocumentStatus
from bots.tasks import GAVE_UP, MAX_RETRIES, index_document, requeue_stale_documents
from bots.tests.factories import make_bot, pdf_bytes, upload_document

pytestmark = pytest.mark.django_db

GUIDE = "\n\n".join(
    f"Sección {number}. La factura número {number} se paga por transferencia antes del día {number}."
    for number in range(1, 40)
)


@pytest.fixture
def bot(user):
    return make_bot(owner=user, language="es")


def _chunks(document):
    return list(Chunk.objects.filter(document=document).order_by("position"))


def test_an_uploaded_text_becomes_ready_with_counts_and_searchable_chunks(
    bot, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        document = upload_document(bot=bot, name="guia.txt", content=GUIDE.encode())
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    assert document.error_message == ""
    assert document.page_count == 1
    assert document.chunk_count == len(_chunks(document)) > 1
    assert document.indexed_at is not None
    assert [chunk.position for chunk in _chunks(document)] == list(range(document.chunk_count))
    [hit] = search(bot, "factura 17", 1)
    assert "factura número 17" in hit.text and hit.page_numbers == [1]


def test_a_pdf_is_indexed_with_its_page_numbers(bot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        document = upload_document(
            bot=bot, name="manual.pdf", content=pdf_bytes(["Instalación del equipo", "", "Garantía limitada"])
        )
    document.refresh_from_db()
    assert (document.status, document.page_count, document.chunk_count) == ("ready", 2, 1)
    [hit] = search(bot, "garantia", 5)
    assert hit.page_numbers == [1, 3]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (pdf_bytes(["Hola"])[:80] + b"\x00\x01 broken", "The PDF is damaged"),
        (pdf_bytes(["", ""]), "no text that can be extracted"),
    ],
)
def test_an_unreadable_pdf_fails_with_a_clear_message_and_no_chunks(
    bot, django_capture_on_commit_callbacks, content, message
):
    with django_capture_on_commit_callbacks(execute=True):
        document = upload_document(bot=bot, name="scan.pdf", content=content)
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED
    assert message in document.error_message
    assert (document.chunk_count, _chunks(document)) == (0, [])


def test_text_in_another_encoding_is_decoded(bot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        document = upload_document(
            bot=bot, name="viejo.txt", content="Año de fundación: 1998.".encode("cp1252")
        )
    assert _chunks(document)[0].text == "Año de fundación: 1998."


def test_a_huge_single_line_file_is_indexed(bot, django_capture_on_commit_callbacks):
    line = " ".join(f"palabra{number}" for number in range(60_000))
    with django_capture_on_commit_callbacks(execute=True):
        document = upload_document(bot=bot, name="linea.txt", content=line.encode())
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY and document.chunk_count > 400
    assert all(len(chunk.text) <= 1000 for chunk in _chunks(document))
    assert len(search(bot, "palabra59999", 1)) == 1


def test_reindexing_replaces_the_chunks_instead_of_adding_to_them(bot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        document = upload_document(bot=bot, name="guia.txt", content=GUIDE.encode())
    before = _chunks(document)
    with django_capture_on_commit_callbacks(execute=True):
        services.document_reindex(document=Document.objects.get(pk=document.pk))
    after = _chunks(document)
    assert [chunk.text for chunk in after] == [chunk.text for chunk in before]
    assert not {chunk.pk for chunk in after} & {chunk.pk for chunk in before}
    assert len(search(bot, '"factura número 17"', 50)) == len(
        [c for c in before if "factura número 17 " in c.text]
    )
    assert Document.objects.get(pk=document.pk).status == DocumentStatus.READY


def test_a_busy_document_cannot_be_reindexed(bot):
    document = upload_document(bot=bot, name="guia.txt", content=GUIDE.encode())  # still pending
    with pytest.raises(DocumentBusy):
        services.document_reindex(document=document)


def test_a_task_redelivered_after_its_worker_died_ends_with_one_set_of_chunks(
    bot, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        document = upload_document(bot=bot, name="guia.txt", content=GUIDE.encode())
    expected = [chunk.text for chunk in _chunks(document)]
    # The worker that was re-indexing it died after claiming it: status processing.
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.PROCESSING)
    index_document.delay(str(document.pk))
    index_document.delay(str(document.pk))  # and the broker delivered it twice
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    assert [chunk.text for chunk in _chunks(document)] == expected
    holding = [text for text in expected if "factura número 17 " in text]
    assert [hit.text for hit in search(bot, '"factura número 17"', 50)] == holding


def test_a_task_for_a_ready_document_does_nothing(bot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        document = upload_document(bot=bot, name="guia.txt", content=GUIDE.encode())
    ids = [chunk.pk for chunk in _chunks(document)]
    index_document.delay(str(document.pk))
    assert [chunk.pk for chunk in _chunks(document)] == ids


def test_a_task_for_a_deleted_document_returns_quietly(bot):
    document = upload_document(bot=bot, name="guia.txt", content=GUIDE.encode())  # its task not run yet
    document_id = document.pk
    services.document_delete(document=document)
    with mock.patch.object(services, "document_fail") as fail:
        result = index_document.delay(str(document_id))
    assert result.successful() and result.result is None
    fail.assert_not_called()
    assert not Document.objects.filter(pk=document_id).exists()
    assert not Chunk.objects.filter(document_id=document_id).exists()


def test_a_transient_database_error_is_retried(bot):
    document = upload_document(bot=bot, name="guia.txt", content=GUIDE.encode())
    real = services.document_index
    calls = []

    def flaky(*, document_id):
        calls.append(document_id)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(document_id=document_id)

    with mock.patch.object(services, "document_index", flaky):
        index_document.apply(args=[str(document.pk)], throw=False)
    assert len(calls) == 2
    assert Document.objects.get(pk=document.pk).status == DocumentStatus.READY


def test_after_the_last_retry_the_document_is_marked_failed(bot):
    document = upload_document(bot=bot, name="guia.txt", content=GUIDE.encode())
    with (
        mock.patch.object(services, "document_index", side_effect=OperationalError("down")),
        pytest.raises(OperationalError),
    ):
        index_document.apply(args=[str(document.pk)], retries=MAX_RETRIES, throw=True)
    document.refresh_from_db()
    assert (document.status, document.error_message) == (DocumentStatus.FAILED, GAVE_UP)


def test_changing_the_bots_language_reindexes_its_documents(bot, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        document = upload_document(bot=bot, name="guide.txt", content=b"Running shoes for every runner.")
    with django_capture_on_commit_callbacks(execute=True):
        services.bot_update(user=user, bot=bot, language="en")
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    assert len(search(bot, "run", 5)) == 1


def test_a_broker_that_refuses_the_task_leaves_the_upload_pending_with_its_file(
    bot, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(index_document, "delay", side_effect=ConnectionError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        document = upload_document(bot=bot, name="guia.txt", content=GUIDE.encode())
    document.refresh_from_db()
    assert document.status == DocumentStatus.PENDING
    assert document.file.storage.exists(document.file.name)


def test_the_sweep_queues_again_only_documents_whose_task_was_lost(bot, django_capture_on_commit_callbacks):
    with mock.patch.object(index_document, "delay"), django_capture_on_commit_callbacks(execute=True):
        lost = upload_document(bot=bot, name="lost.txt", content=GUIDE.encode())
        fresh = upload_document(bot=bot, name="fresh.txt", content=GUIDE.encode())
    Document.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stale_documents.delay().get() == 1
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert (lost.status, fresh.status) == (DocumentStatus.READY, DocumentStatus.PENDING)
    assert lost.chunk_count > 0


def test_the_beat_schedule_runs_the_sweep_and_the_analytics_rollups():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"bots.tasks.requeue_stale_documents", "analytics.tasks.refresh_daily_rollups"} <= tasks

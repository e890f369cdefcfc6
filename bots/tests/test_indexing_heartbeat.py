"""A worker that dies mid-document: the indexing task beats `heartbeat_at` while it
works, the sweep (every minute) queues again a processing document whose heartbeat
stopped, and the claim keeps exactly one chunk set whichever task comes back."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone

from bots import services
from bots.models import Chunk, Document, DocumentStatus
from bots.services import documents
from bots.tasks import index_document, requeue_stale_documents
from bots.tests.factories import make_bot, upload_document

pytestmark = pytest.mark.django_db

TEXT = "\n\n".join(
    f"Section {number}. Refunds of order {number} take {number} days. " * 8 for number in range(12)
)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _default_heartbeat(settings):
    settings.DOCUMENT_HEARTBEAT_SECONDS = 10
    settings.DOCUMENT_STALE_SECONDS = 60


@pytest.fixture
def bot(user):
    return make_bot(owner=user, language="en")


def orphan(
    bot, django_capture_on_commit_callbacks, *, heartbeat_age: timedelta | None, name: str = "orphan.txt"
) -> Document:
    """A document left `processing` by a worker that was killed: its task's message is
    still unacknowledged in the broker, and nothing indexes it."""
    with mock.patch.object(index_document, "delay"), django_capture_on_commit_callbacks(execute=True):
        document = upload_document(bot=bot, name=name, content=TEXT.encode())
    now = timezone.now()
    Document.objects.filter(pk=document.pk).update(
        status=DocumentStatus.PROCESSING,
        heartbeat_at=None if heartbeat_age is None else now - heartbeat_age,
        updated_at=now - timedelta(minutes=5),
    )
    return document


def chunk_set(document: Document) -> list[tuple[int, int]]:
    return list(Chunk.objects.filter(document=document).order_by("position").values_list("id", "position"))


def test_the_sweep_runs_every_minute():
    entry = next(
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "bots.tasks.requeue_stale_documents"
    )
    assert entry["schedule"] <= timedelta(minutes=1)


def test_a_processing_document_whose_heartbeat_stopped_is_queued_again_and_indexed_once(
    bot, django_capture_on_commit_callbacks
):
    document = orphan(bot, django_capture_on_commit_callbacks, heartbeat_age=timedelta(seconds=90))
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stale_documents.delay().get() == 1
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    assert document.chunk_count > 1
    positions = [position for _, position in chunk_set(document)]
    assert positions == list(range(document.chunk_count))


def test_a_processing_document_with_a_fresh_heartbeat_is_left_to_its_worker(
    bot, django_capture_on_commit_callbacks
):
    document = orphan(bot, django_capture_on_commit_callbacks, heartbeat_age=timedelta(seconds=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stale_documents.delay().get() == 0
    # A duplicate message for it (a redelivery) does not take it from the live worker.
    assert services.document_index(document_id=document.pk) is None
    document.refresh_from_db()
    assert document.status == DocumentStatus.PROCESSING
    assert chunk_set(document) == []


def test_the_dead_workers_task_coming_back_late_leaves_the_one_chunk_set(
    bot, django_capture_on_commit_callbacks
):
    document = orphan(bot, django_capture_on_commit_callbacks, heartbeat_age=timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        requeue_stale_documents.delay().get()
    first = chunk_set(document)
    assert first
    # The broker redelivers the killed worker's message after its visibility timeout.
    index_document.apply(args=[str(document.pk)], throw=True)
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    assert chunk_set(document) == first


def test_two_runs_racing_on_one_orphan_leave_one_chunk_set(bot, django_capture_on_commit_callbacks):
    """The requeued task and the dead worker's redelivered one both start before either
    finishes: the one that claims second is refused while the first beats; if the first
    dies too, the second replaces whatever the first left."""
    document = orphan(bot, django_capture_on_commit_callbacks, heartbeat_age=timedelta(minutes=2))
    real_chunk_pages = documents.chunk_pages
    inner_results = []

    def chunk_then_race(pages, **kwargs):
        # While the first run works, the second arrives: its claim is refused.
        inner_results.append(services.document_index(document_id=document.pk))
        return real_chunk_pages(pages, **kwargs)

    with mock.patch.object(documents, "chunk_pages", chunk_then_race):
        outcome = services.document_index(document_id=document.pk)
    assert inner_results == [None]
    assert outcome.status == DocumentStatus.READY
    document.refresh_from_db()
    assert Chunk.objects.filter(document=document).count() == document.chunk_count > 1


def test_a_pending_document_is_queued_again_only_after_it_waited_long(
    bot, django_capture_on_commit_callbacks
):
    with mock.patch.object(index_document, "delay"), django_capture_on_commit_callbacks(execute=True):
        waiting = upload_document(bot=bot, name="waiting.txt", content=TEXT.encode())
        lost = upload_document(bot=bot, name="lost.txt", content=TEXT.encode())
    Document.objects.filter(pk=waiting.pk).update(updated_at=timezone.now() - timedelta(minutes=3))
    Document.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(minutes=11))
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stale_documents.delay().get() == 1
    waiting.refresh_from_db()
    lost.refresh_from_db()
    assert (waiting.status, lost.status) == (DocumentStatus.PENDING, DocumentStatus.READY)


def test_the_sweep_queues_an_orphan_once_per_heartbeat_period(bot, django_capture_on_commit_callbacks):
    orphan(bot, django_capture_on_commit_callbacks, heartbeat_age=timedelta(minutes=2))
    with (
        mock.patch.object(index_document, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert requeue_stale_documents.delay().get() == 1
    with mock.patch.object(index_document, "delay"), django_capture_on_commit_callbacks(execute=True):
        # The queued task has not started yet (a busy queue): not queued a second time.
        assert requeue_stale_documents.delay().get() == 0
    assert delay.call_count == 1


def test_the_task_beats_while_it_reads_the_document(bot, django_capture_on_commit_callbacks, settings):
    settings.DOCUMENT_HEARTBEAT_SECONDS = 0
    with mock.patch.object(index_document, "delay"), django_capture_on_commit_callbacks(execute=True):
        document = upload_document(
            bot=bot, name="pages.txt", content="\f".join(["A page of text."] * 5).encode()
        )
    beats = []
    real_update = documents._Heartbeat.__call__

    def spy(self):
        real_update(self)
        beats.append(Document.objects.values_list("heartbeat_at", flat=True).get(pk=document.pk))

    with mock.patch.object(documents._Heartbeat, "__call__", spy):
        services.document_index(document_id=document.pk)
    assert len(beats) >= 5
    assert beats == sorted(beats) and beats[0] is not None
    document.refresh_from_db()
    assert (document.status, document.heartbeat_at) == (DocumentStatus.READY, None)

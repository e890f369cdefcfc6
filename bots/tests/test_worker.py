"""A real Celery worker, a real broker: an upload reaches `ready` in the background."""

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from bots.models import Chunk, Document, DocumentStatus
from bots.tests.factories import make_bot

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 90
# Indexing goes pending -> processing -> embedding (keyword search already finds it) -> one of these.
FINISHED = (DocumentStatus.READY, DocumentStatus.FAILED)


def _test_database_url() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{credentials}@{host}:{port}/{db['NAME']}"


def _start_worker(log, **extra_env: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DEBUG": "true",
        # These tests are about the worker, not meaning: no model to load in the subprocess
        # (the embedding step itself is covered in-process with the fake embedder).
        "EMBEDDINGS_PROVIDER": "none",
        **extra_env,
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bytchat",
            "worker",
            "--pool=solo",
            "-Q",
            "celery",
            "-l",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def worker(tmp_path):
    """A worker process on the test database and the test broker; tasks stop being eager."""
    from bytchat.celery import app

    log = (tmp_path / "worker.log").open("w+")
    process = _start_worker(log)
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield process, log
    finally:
        app.conf.task_always_eager = previous
        _stop(process)
        log.close()


def _log(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-4000:]


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_indexes_a_document_uploaded_through_the_api(worker, user, user_client):
    process, log = worker
    bot = make_bot(owner=user)
    response = user_client.post(
        f"/api/v1/bots/{bot.pk}/documents",
        {"file": SimpleUploadedFile("worker.md", b"# Worker\n\nIndexed by a real Celery worker.")},
        format="multipart",
    )
    assert response.status_code == 202
    document_id = response.json()["id"]
    deadline = time.monotonic() + DEADLINE_SECONDS
    status = DocumentStatus.PENDING
    while status not in FINISHED and time.monotonic() < deadline:
        assert process.poll() is None, f"The worker exited:\n{_log(log)}"
        time.sleep(0.2)
        status = Document.objects.get(pk=document_id).status
    document = Document.objects.get(pk=document_id)
    assert document.status == DocumentStatus.READY, f"{document.status} {document.error_message}\n{_log(log)}"
    assert document.chunk_count == 1


# The kill test's worker beats every second and is taken for dead after three.
FAST_HEARTBEAT = {"DOCUMENT_HEARTBEAT_SECONDS": "1", "DOCUMENT_STALE_SECONDS": "3"}


def _wait_for(predicate, *, seconds: float, poll: float = 0.05, what: str, log) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"Timed out waiting for {what}:\n{_log(log)}"
        time.sleep(poll)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_document_whose_worker_is_killed_mid_indexing_is_indexed_once_by_the_next(
    tmp_path, settings, user, user_client
):
    """SIGKILL the whole worker while it indexes: the document stays `processing`, its
    message unacknowledged in Redis until the visibility timeout. A new worker and the
    sweep (beat runs it every minute; here, every half second) bring it to `ready` with
    exactly one chunk set."""
    from bots import services
    from bytchat.celery import app

    settings.DOCUMENT_HEARTBEAT_SECONDS = 1
    settings.DOCUMENT_STALE_SECONDS = 3
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    log = (tmp_path / "worker.log").open("w+")
    first = _start_worker(log, **FAST_HEARTBEAT)
    second = None
    try:
        bot = make_bot(owner=user)
        # Big enough to take a few seconds to chunk and index: time to kill it mid-way.
        text = "\n\n".join(f"Section {n}. Refund rule {n} applies to order {n}. " * 12 for n in range(7000))
        response = user_client.post(
            f"/api/v1/bots/{bot.pk}/documents",
            {"file": SimpleUploadedFile("big.txt", text.encode())},
            format="multipart",
        )
        assert response.status_code == 202
        document_id = response.json()["id"]

        def status() -> str:
            return Document.objects.get(pk=document_id).status

        _wait_for(
            lambda: status() == DocumentStatus.PROCESSING, seconds=45, what="indexing to start", log=log
        )
        first.kill()  # SIGKILL: no warm shutdown, no message handed back to the broker
        first.wait(timeout=10)
        document = Document.objects.get(pk=document_id)
        assert document.status == DocumentStatus.PROCESSING, "the worker finished before it was killed"
        assert not Chunk.objects.filter(document_id=document_id).exists()
        killed_at = time.monotonic()

        second = _start_worker(log, **FAST_HEARTBEAT)

        def swept_and_ready() -> bool:
            services.document_requeue_stale()
            return status() in FINISHED

        _wait_for(
            swept_and_ready, seconds=DEADLINE_SECONDS, poll=0.5, what="the document to be ready", log=log
        )
        recovered_in = time.monotonic() - killed_at
        document = Document.objects.get(pk=document_id)
        assert document.status == DocumentStatus.READY, f"{document.error_message}\n{_log(log)}"
        positions = list(Chunk.objects.filter(document_id=document_id).values_list("position", flat=True))
        assert sorted(positions) == list(range(document.chunk_count))
        assert document.chunk_count > 1
        print(f"killed mid-document; ready {recovered_in:.1f} s later with {document.chunk_count} chunks")
    finally:
        app.conf.task_always_eager = previous
        for process in (first, second):
            if process is not None:
                _stop(process)
        log.close()

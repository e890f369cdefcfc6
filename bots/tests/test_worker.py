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

from bots.models import Document, DocumentStatus
from bots.tests.factories import make_bot

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 90


def _test_database_url() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{credentials}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def worker(tmp_path):
    """A worker process on the test database and the test broker; tasks stop being eager."""
    from bytchat.celery import app

    log = (tmp_path / "worker.log").open("w+")
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DEBUG": "true",
    }
    process = subprocess.Popen(
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
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield process, log
    finally:
        app.conf.task_always_eager = previous
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
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
    while status in (DocumentStatus.PENDING, DocumentStatus.PROCESSING) and time.monotonic() < deadline:
        assert process.poll() is None, f"The worker exited:\n{_log(log)}"
        time.sleep(0.2)
        status = Document.objects.get(pk=document_id).status
    document = Document.objects.get(pk=document_id)
    assert document.status == DocumentStatus.READY, f"{document.status} {document.error_message}\n{_log(log)}"
    assert document.chunk_count == 1

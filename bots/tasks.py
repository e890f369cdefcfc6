"""Background work for bots: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

# Worth another try: the database went away or timed out for a moment.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)
MAX_RETRIES = 5
GAVE_UP = "The document could not be indexed because the database was unavailable. Try re-indexing it."


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES)
def index_document(self, document_id: str) -> None:
    from bots import services

    try:
        services.document_index(document_id=document_id)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= self.max_retries:
            services.document_fail(document_id=document_id, message=GAVE_UP)
            raise
        # Exponential backoff: 2, 4, 8, 16, 32 seconds.
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, retry_backoff_max=300, max_retries=3)
def requeue_stale_documents() -> int:
    """Run by beat: queue again the documents whose indexing task was lost."""
    from bots import services

    return services.document_requeue_stale()


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES)
def embed_document(self, document_id: str) -> None:
    """Re-embed one document's chunks with the current embedder, in batches (the
    embedder's own failures are retried inside the service)."""
    from bots import services

    try:
        services.document_embed(document_id=document_id)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= self.max_retries:
            services.document_fail(document_id=document_id, message=GAVE_UP)
            raise
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc

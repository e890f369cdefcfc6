"""Knowledge documents: upload, delete, re-index, and the indexing itself.

Indexing is claimed with a conditional UPDATE (pending, or processing with a stopped
heartbeat -> processing), so a task for a document that is ready, failed, gone or being
indexed by a live worker does nothing. While it works, the task touches the document's
`heartbeat_at`; the sweep (every minute) queues again a processing document whose
heartbeat stopped (its worker died) and a pending one whose task was lost. The chunks and
their search index are replaced in one transaction that holds the document's row lock: a
task delivered twice, or a dead worker's task redelivered late, still leaves exactly one set.
"""

from __future__ import annotations

import hashlib
import logging
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from bots.errors import DocumentBusy, EmptyFile, FileTooLarge
from bots.knowledge.chunking import chunk_pages
from bots.knowledge.embeddings import EmbeddingError, embeddings_enabled, get_embedder
from bots.knowledge.embeddings import to_bytes as embedding_bytes
from bots.knowledge.extraction import SNIFF_BYTES, DocumentLimits, ExtractionError, extract_pages, sniff
from bots.knowledge.filters import metadata_clean, metadata_rows
from bots.knowledge.language import document_language
from bots.knowledge.search import index_document_chunks
from bots.knowledge.vectors import embed_chunks, sentences_to_bytes
from bots.models import Bot, Chunk, Document, DocumentMetadataValue, DocumentStatus
from bots.services.catalog import chat_bot_forget

logger = logging.getLogger(__name__)

MAX_FILENAME_CHARS = 255
CHUNK_BATCH_SIZE = 1000
# A pending document waits for a free worker; this long without one, its task was lost.
PENDING_STALE_AFTER = timedelta(minutes=10)
UNEXPECTED_FAILURE = "The file could not be indexed because of an unexpected error. Try re-indexing it later."


def max_upload_bytes() -> int:
    return settings.MAX_UPLOAD_MB * 1024 * 1024


def clean_filename(name: str) -> str:
    """The last component of what the client sent, without control characters, leading
    dots or surrounding spaces, at most 255 characters with its extension kept."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    name = " ".join(name.split()).lstrip(". ")
    if len(name) > MAX_FILENAME_CHARS:
        suffix = PurePosixPath(name).suffix[:20]
        name = name[: MAX_FILENAME_CHARS - len(suffix)] + suffix
    return name or "document"


def _enqueue(document_ids: Iterable[Any]) -> None:
    from bots.tasks import index_document

    ids = [str(document_id) for document_id in document_ids]
    # robust: a broker that refuses the message must not turn a stored upload into an
    # error; the document stays pending and `document_requeue_stale` queues it again.
    transaction.on_commit(lambda: [index_document.delay(document_id) for document_id in ids], robust=True)


def document_upload(
    *, user: User | None, bot: Bot, file: File, enqueue: bool = True, metadata: Any = None
) -> Document:
    """Store an upload and queue its indexing (`enqueue=False`: the caller indexes it
    itself). Refused before anything is stored: an empty file, one over MAX_UPLOAD_MB,
    one that is not what its extension says, and invalid `metadata`."""
    metadata = metadata_clean(metadata)
    name = clean_filename(file.name)
    limit = max_upload_bytes()
    if file.size is None or file.size == 0:
        raise EmptyFile(fields={"file": ["The submitted file is empty."]})
    if file.size > limit:
        raise FileTooLarge(
            f"The file is larger than {settings.MAX_UPLOAD_MB} MB.", extra={"max_bytes": limit}
        )
    file.seek(0)
    content_type = sniff(filename=name, head=file.read(SNIFF_BYTES))
    file.seek(0)
    digest = hashlib.sha256()
    for block in file.chunks():
        digest.update(block)
    file.seek(0)
    document = Document(
        bot=bot,
        uploaded_by=user,
        original_name=name,
        content_type=content_type,
        size=file.size,
        sha256=digest.hexdigest(),
        metadata=metadata,
    )
    document.file.save(name, file, save=False)
    try:
        with transaction.atomic():
            document.save(force_insert=True)
            _write_metadata_values(document)
            if enqueue:
                _enqueue([document.pk])
    except BaseException:
        document.file.delete(save=False)
        raise
    return document


def _write_metadata_values(document: Document) -> None:
    DocumentMetadataValue.objects.filter(document=document).delete()
    DocumentMetadataValue.objects.bulk_create(
        DocumentMetadataValue(document=document, bot_id=document.bot_id, **row)
        for row in metadata_rows(document.metadata)
    )


def document_set_metadata(*, document: Document, metadata: Any) -> Document:
    """Replace a document's metadata. Its chunks and their index stay as they are: search
    filters read the metadata, nothing is re-embedded or re-indexed."""
    metadata = metadata_clean(metadata)
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        locked.metadata = metadata
        locked.save(update_fields=["metadata", "updated_at"])
        _write_metadata_values(locked)
    document.metadata, document.updated_at = locked.metadata, locked.updated_at
    return document


def document_delete(*, document: Document) -> None:
    """The document, its chunks and their index go now; the file once that is committed."""
    file = document.file
    bot_id = document.bot_id
    with transaction.atomic():
        document.delete()
        chat_bot_forget(bot_id=bot_id)  # it may have held the bot's last chunks
        transaction.on_commit(lambda: file.delete(save=False))


def document_reindex(*, document: Document) -> Document:
    """Queue a document for indexing again. Refused while it is pending or processing."""
    with transaction.atomic():
        claimed = Document.objects.filter(
            pk=document.pk, status__in=[DocumentStatus.READY, DocumentStatus.FAILED]
        ).update(status=DocumentStatus.PENDING, error_message="", updated_at=timezone.now())
        if not claimed:
            raise DocumentBusy()
        _enqueue([document.pk])
    document.refresh_from_db()
    return document


def heartbeat_every() -> timedelta:
    """How often the indexing task touches `heartbeat_at` while it reads a document..."""
    return timedelta(seconds=settings.DOCUMENT_HEARTBEAT_SECONDS)


def heartbeat_stale_after() -> timedelta:
    """...and how old that touch is when the worker is taken for dead."""
    return timedelta(seconds=settings.DOCUMENT_STALE_SECONDS)


def document_requeue_stale(
    *,
    heartbeat_older_than: timedelta | None = None,
    pending_older_than: timedelta = PENDING_STALE_AFTER,
    limit: int = 500,
) -> int:
    """Queue again the documents whose indexing task was lost: processing ones whose
    heartbeat stopped (the worker died mid-document; its message would come back only
    after the broker's visibility timeout) and pending ones that waited too long (the
    broker refused the task). The claim takes either, so a repeat is harmless, and a live
    task keeps its document (its heartbeat is fresh)."""
    heartbeat_older_than = heartbeat_older_than or heartbeat_stale_after()
    now = timezone.now()
    lost_worker = Q(status__in=[DocumentStatus.PROCESSING, DocumentStatus.EMBEDDING]) & (
        Q(heartbeat_at__lt=now - heartbeat_older_than)
        | Q(heartbeat_at__isnull=True, updated_at__lt=now - heartbeat_older_than)
    )
    lost_task = Q(status=DocumentStatus.PENDING, updated_at__lt=now - pending_older_than)
    with transaction.atomic():
        ids = list(
            Document.objects.select_for_update(skip_locked=True)
            # Queued once per heartbeat period at most: updated_at restarts below.
            .filter(lost_worker | lost_task, updated_at__lt=now - heartbeat_older_than)
            .order_by("updated_at")
            .values_list("pk", flat=True)[:limit]
        )
        Document.objects.filter(pk__in=ids).update(updated_at=now)
        _enqueue(ids)
    if ids:
        logger.info("Queued %d document(s) again whose indexing task was lost", len(ids))
    return len(ids)


def document_reindex_many(*, documents: QuerySet[Document]) -> int:
    """Queue every ready or failed document of the queryset; busy ones are left alone."""
    with transaction.atomic():
        documents = documents.filter(status__in=[DocumentStatus.READY, DocumentStatus.FAILED])
        ids = list(documents.select_for_update().values_list("pk", flat=True))
        Document.objects.filter(pk__in=ids).update(
            status=DocumentStatus.PENDING, error_message="", updated_at=timezone.now()
        )
        _enqueue(ids)
    return len(ids)


@dataclass(frozen=True)
class IndexOutcome:
    status: str
    pages: int = 0
    chunks: int = 0
    error: str = ""


def document_limits() -> DocumentLimits:
    return DocumentLimits(
        text_chars=settings.MAX_DOCUMENT_TEXT_CHARS,
        pages=settings.MAX_DOCUMENT_PAGES,
        expanded_bytes=settings.MAX_DOCUMENT_EXPANDED_MB * 1024 * 1024,
    )


def _claim(document_id: Any) -> bool:
    """Take the document for this run: a pending one, or a processing one whose worker
    stopped beating. A document a live task is indexing stays with it."""
    now = timezone.now()
    stale = now - heartbeat_stale_after()
    return bool(
        Document.objects.filter(
            Q(status=DocumentStatus.PENDING)
            | Q(status__in=[DocumentStatus.PROCESSING, DocumentStatus.EMBEDDING], heartbeat_at__isnull=True)
            | Q(status__in=[DocumentStatus.PROCESSING, DocumentStatus.EMBEDDING], heartbeat_at__lt=stale),
            pk=document_id,
        ).update(status=DocumentStatus.PROCESSING, heartbeat_at=now, updated_at=now)
    )


class _Heartbeat:
    """Touches the document's `heartbeat_at`, at most every `heartbeat_every()` however
    often it is called (after each page and paragraph read, and once chunked)."""

    def __init__(self, document_id: Any, status: str = DocumentStatus.PROCESSING) -> None:
        self.document_id = document_id
        self.status = status
        self.every = heartbeat_every().total_seconds()
        self.last = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last < self.every:
            return
        self.last = time.monotonic()
        Document.objects.filter(pk=self.document_id, status=self.status).update(heartbeat_at=timezone.now())


def document_index(*, document_id: Any) -> IndexOutcome | None:
    """Extract, chunk and index one document, within `document_limits()`. None when there
    was nothing to do (it is gone, finished, or a live task is indexing it)."""
    if not _claim(document_id):
        return None
    document = Document.objects.get(pk=document_id)
    heartbeat = _Heartbeat(document_id)
    limits = document_limits()
    try:
        with document.file.open("rb") as handle:
            data = handle.read()
        pages = extract_pages(data=data, filename=document.original_name, limits=limits, progress=heartbeat)
        drafts = chunk_pages(pages, max_chunks=settings.MAX_DOCUMENT_CHUNKS)
        heartbeat()
    except FileNotFoundError:
        return _fail(document_id, "The uploaded file is missing from storage. Upload it again.")
    except ExtractionError as exc:
        return _fail(document_id, str(exc))
    except Exception:
        logger.exception("Indexing document %s failed", document_id)
        return _fail(document_id, UNEXPECTED_FAILURE)

    with transaction.atomic():
        locked = (
            Document.objects.select_for_update()
            .filter(pk=document_id, status=DocumentStatus.PROCESSING)
            .select_related("bot")
            .first()
        )
        if locked is None:  # deleted, or finished by a concurrent run, meanwhile
            return None
        Chunk.objects.filter(document_id=document_id).delete()
        Chunk.objects.bulk_create(
            (
                Chunk(
                    document_id=document_id,
                    bot_id=locked.bot_id,
                    position=draft.position,
                    text=draft.text,
                    page_numbers=draft.page_numbers,
                )
                for draft in drafts
            ),
            batch_size=CHUNK_BATCH_SIZE,
        )
        # Full text is indexed in the document's own language (a bot may hold both).
        language = document_language([draft.text for draft in drafts], locked.bot.language)
        index_document_chunks(document_id=document_id, language=language)
        chat_bot_forget(bot_id=locked.bot_id)  # the bot may have had nothing to search
        # Keyword search finds the chunks from here on; their vectors come next.
        locked.status = DocumentStatus.EMBEDDING
        locked.error_message = ""
        locked.page_count = len(pages)
        locked.chunk_count = len(drafts)
        locked.heartbeat_at = timezone.now()
        locked.embedding_model = ""
        locked.embedding_dimensions = 0
        locked.save(
            update_fields=[
                "status",
                "error_message",
                "page_count",
                "chunk_count",
                "heartbeat_at",
                "embedding_model",
                "embedding_dimensions",
                "updated_at",
            ]
        )
    status = document_embed(document_id=document_id)
    if status == DocumentStatus.FAILED:
        failed = Document.objects.filter(pk=document_id).values_list("error_message", flat=True).first()
        return IndexOutcome(status, pages=len(pages), chunks=len(drafts), error=failed or "")
    return IndexOutcome(status or DocumentStatus.READY, pages=len(pages), chunks=len(drafts))


def _embed_with_retry(embed, texts: list[str]):
    """`embed(texts)`, tried `EMBEDDINGS_MAX_ATTEMPTS` times with exponential backoff."""
    attempts = max(1, settings.EMBEDDINGS_MAX_ATTEMPTS)
    for attempt in range(1, attempts + 1):
        try:
            return embed(texts)
        except EmbeddingError:
            if attempt == attempts:
                raise
            time.sleep(settings.EMBEDDINGS_RETRY_SECONDS * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def document_embed(*, document_id: Any) -> str | None:
    """Make the vectors of an `embedding` document's chunks with the current embedder, in
    batches, then mark it ready with the embedder's key. If the embedder keeps failing,
    the document is `failed` with a message and its chunks stay: keyword search still
    finds them. Returns the final status (None when the document is gone or not ours)."""
    if not embeddings_enabled():
        updated = Document.objects.filter(pk=document_id, status=DocumentStatus.EMBEDDING).update(
            status=DocumentStatus.READY,
            indexed_at=timezone.now(),
            heartbeat_at=None,
            updated_at=timezone.now(),
        )
        return DocumentStatus.READY if updated else None
    embedder = get_embedder()
    heartbeat = _Heartbeat(document_id, DocumentStatus.EMBEDDING)
    batch_size = max(1, settings.EMBEDDINGS_BATCH_SIZE)
    chunk_ids = list(
        Chunk.objects.filter(document_id=document_id).order_by("position").values_list("id", flat=True)
    )
    dimensions = 0
    try:
        for start in range(0, len(chunk_ids), batch_size):
            batch = list(
                Chunk.objects.filter(id__in=chunk_ids[start : start + batch_size]).only("id", "text")
            )
            embedded = _embed_with_retry(
                lambda texts: embed_chunks(embedder.embed_passages, texts), [chunk.text for chunk in batch]
            )
            for chunk, (vector, sentences) in zip(batch, embedded, strict=True):
                chunk.embedding = embedding_bytes(vector)
                chunk.sentence_embeddings = sentences_to_bytes(sentences)
                dimensions = len(vector)
            if not Document.objects.filter(pk=document_id, status=DocumentStatus.EMBEDDING).exists():
                return None  # deleted or re-queued meanwhile
            Chunk.objects.bulk_update(batch, ["embedding", "sentence_embeddings"])
            heartbeat()
    except EmbeddingError as exc:
        logger.warning("Embedding document %s failed: %s", document_id, exc)
        message = (
            "The passages were stored but could not be embedded for search by meaning "
            f"({str(exc)[:300]}); keyword search still finds them. Re-index the document to try again."
        )
        updated = Document.objects.filter(pk=document_id, status=DocumentStatus.EMBEDDING).update(
            status=DocumentStatus.FAILED, error_message=message, heartbeat_at=None, updated_at=timezone.now()
        )
        return DocumentStatus.FAILED if updated else None
    now = timezone.now()
    updated = Document.objects.filter(pk=document_id, status=DocumentStatus.EMBEDDING).update(
        status=DocumentStatus.READY,
        embedding_model=embedder.key,
        embedding_dimensions=dimensions or embedder.dimensions,
        indexed_at=now,
        heartbeat_at=None,
        updated_at=now,
    )
    return DocumentStatus.READY if updated else None


def document_reembed_many(*, documents: QuerySet[Document]) -> list[Any]:
    """Mark the ready documents not embedded by the current embedder for re-embedding
    (searched by keywords until done) and return their ids, for `embed_document` tasks."""
    key = get_embedder().key
    with transaction.atomic():
        ids = list(
            documents.filter(status=DocumentStatus.READY)
            .exclude(embedding_model=key)
            .select_for_update()
            .values_list("pk", flat=True)
        )
        now = timezone.now()
        Document.objects.filter(pk__in=ids, status=DocumentStatus.READY).update(
            status=DocumentStatus.EMBEDDING,
            embedding_model="",
            embedding_dimensions=0,
            heartbeat_at=now,
            updated_at=now,
        )
    return ids


def _fail(document_id: Any, message: str) -> IndexOutcome | None:
    """Mark the document failed, with no chunks left from an earlier indexing."""
    with transaction.atomic():
        locked = (
            Document.objects.select_for_update()
            .filter(pk=document_id, status=DocumentStatus.PROCESSING)
            .first()
        )
        if locked is None:  # deleted, or finished by a concurrent run, meanwhile
            return None
        Chunk.objects.filter(document_id=document_id).delete()
        chat_bot_forget(bot_id=locked.bot_id)  # those may have been the bot's last chunks
        locked.status = DocumentStatus.FAILED
        locked.error_message = message
        locked.page_count = 0
        locked.chunk_count = 0
        locked.heartbeat_at = None
        locked.save(
            update_fields=[
                "status",
                "error_message",
                "page_count",
                "chunk_count",
                "heartbeat_at",
                "updated_at",
            ]
        )
    return IndexOutcome(DocumentStatus.FAILED, error=message)


def document_fail(*, document_id: Any, message: str) -> None:
    """Give up on a document whose indexing kept failing for a transient reason."""
    Document.objects.filter(
        pk=document_id,
        status__in=[DocumentStatus.PENDING, DocumentStatus.PROCESSING, DocumentStatus.EMBEDDING],
    ).update(status=DocumentStatus.FAILED, error_message=message, updated_at=timezone.now())

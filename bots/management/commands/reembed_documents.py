"""Embed again, with the current embedder, the documents embedded by another model.

    manage.py reembed_documents [--bot BOT_ID] [--queue]

After a change of EMBEDDINGS_PROVIDER, EMBEDDINGS_MODEL or EMBEDDINGS_DIMENSIONS, vectors
of two models must never be compared: search uses keywords for a document until it is
re-embedded. The work runs here, with a progress bar, or in the Celery workers with
--queue (the `embed_document` task, one per document, in batches of chunks).
"""

from __future__ import annotations

import sys
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from bots import services
from bots.knowledge.embeddings import EmbeddingError, get_embedder
from bots.models import Bot, Document, DocumentStatus
from bots.tasks import embed_document

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Re-embed documents whose vectors come from another embedding model, with a progress bar."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bot", help="Only this bot's documents.")
        parser.add_argument("--queue", action="store_true", help="Send the work to the Celery workers.")

    def handle(self, *args, **options) -> None:
        documents = Document.objects.all()
        if options["bot"]:
            try:
                bot = Bot.objects.filter(pk=options["bot"]).first()
            except ValidationError:
                bot = None
            if bot is None:
                raise CommandError(f"No bot with id {options['bot']}.")
            documents = documents.filter(bot=bot)
        try:
            key = get_embedder().key
        except EmbeddingError as exc:
            raise CommandError(str(exc)) from exc
        ids = services.document_reembed_many(documents=documents)
        if not ids:
            self.stdout.write(f"Every ready document is embedded with {key}.")
            return
        if options["queue"]:
            transaction.on_commit(lambda: [embed_document.delay(str(pk)) for pk in ids])
            self.stdout.write(f"Queued {len(ids)} document(s) for re-embedding with {key}.")
            return
        started = time.perf_counter()
        failed = 0
        for number, document_id in enumerate(ids):
            self._progress(number, len(ids))
            if services.document_embed(document_id=document_id) == DocumentStatus.FAILED:
                failed += 1
        self._progress(len(ids), len(ids))
        if sys.stderr.isatty():
            self.stderr.write("")
        self.stdout.write(
            f"Re-embedded {len(ids) - failed} document(s) with {key} in {time.perf_counter() - started:.1f} s; "
            f"{failed} failed."
        )
        if failed:
            raise CommandError(f"{failed} document(s) failed.", returncode=1)

    def _progress(self, done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total
        line = f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}"
        if sys.stderr.isatty():
            self.stderr.write(line, ending="")
            self.stderr.flush()
        elif done < total:
            self.stderr.write(f"[{done + 1}/{total}]")

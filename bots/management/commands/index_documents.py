"""Bulk-index files and folders into a bot, right here rather than through the queue.

    manage.py index_documents --bot BOT_ID docs/ handbook.pdf [--reindex] [--meta program=DSCR ...]

Folders are walked for .txt, .md, .pdf and .docx files. A file already in the bot (same
content) is skipped, or indexed again with --reindex. Ends with a summary, and a non-zero
exit status when any file failed.

Metadata: a sidecar file next to a document, named after it plus `.meta.json`
(`DSCR_Matrix.pdf.meta.json`, a JSON object), and `--meta KEY=VALUE` flags for every file
(a VALUE that reads as a JSON number or list is one: `year=2024`, `tags=["a","b"]`; any
other is a string). A flag wins over the sidecar for its key. A file the bot already has
gets the new metadata without being indexed again (unless --reindex).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from bots import services
from bots.knowledge.extraction import CONTENT_TYPES
from bots.knowledge.filters import metadata_clean
from bots.models import Bot, Document, DocumentStatus
from bytchat.errors import DomainError, InvalidInput

SIDECAR_SUFFIX = ".meta.json"

BAR_WIDTH = 30


@dataclass
class Summary:
    documents: int = 0
    skipped: int = 0
    tagged: int = 0
    pages: int = 0
    chunks: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


class Command(BaseCommand):
    help = "Index files or folders (.txt, .md, .pdf, .docx) into a bot, with a progress bar and a summary."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bot", required=True, help="The bot's id.")
        parser.add_argument("paths", nargs="+", help="Files or folders.")
        parser.add_argument(
            "--reindex", action="store_true", help="Index again files the bot already has (same content)."
        )
        parser.add_argument(
            "--meta",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="Metadata for every file (repeatable); a FILE.meta.json sidecar adds per-file keys.",
        )

    def handle(self, *args, **options) -> None:
        try:
            bot = Bot.objects.filter(pk=options["bot"], is_active=True).first()
        except ValidationError:
            bot = None
        if bot is None:
            raise CommandError(f"No active bot with id {options['bot']}.")
        flags = self._flags(options["meta"])
        files = self._collect([Path(path) for path in options["paths"]])
        if not files:
            raise CommandError("No .txt, .md, .pdf or .docx files found in the given paths.")
        summary = Summary()
        started = time.perf_counter()
        for number, path in enumerate(files, start=1):
            self._progress(number - 1, len(files), path.name)
            self._index(bot, path, reindex=options["reindex"], flags=flags, summary=summary)
        self._progress(len(files), len(files), "done")
        if sys.stderr.isatty():
            self.stderr.write("")
        self._report(summary, time.perf_counter() - started)
        if summary.failures:
            raise CommandError(f"{len(summary.failures)} file(s) failed.", returncode=1)

    def _flags(self, pairs: list[str]) -> dict:
        metadata = {}
        for pair in pairs:
            key, separator, value = pair.partition("=")
            if not separator or not key.strip():
                raise CommandError(f"--meta {pair!r}: write it KEY=VALUE.")
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = value
            is_number = isinstance(parsed, int | float) and not isinstance(parsed, bool)
            metadata[key.strip()] = parsed if is_number or isinstance(parsed, list) else value
        try:
            return metadata_clean(metadata)
        except InvalidInput as exc:
            raise CommandError(f"--meta: {exc.message}") from None

    def _metadata(self, path: Path, flags: dict) -> dict | None:
        """The file's sidecar metadata under the flags; None when there is neither."""
        sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
        if not sidecar.is_file():
            return dict(flags) if flags else None
        try:
            found = json.loads(sidecar.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{sidecar.name} is not valid JSON: {exc}") from None
        if not isinstance(found, dict):
            raise InvalidInput(f"{sidecar.name} must hold a JSON object.")
        return metadata_clean({**found, **flags})

    def _collect(self, paths: list[Path]) -> list[Path]:
        files: list[Path] = []
        for path in paths:
            if path.is_dir():
                files += sorted(
                    child
                    for child in path.rglob("*")
                    if child.is_file() and child.suffix.lower() in CONTENT_TYPES
                )
            elif path.is_file():
                files.append(path)  # named explicitly: an unsupported type is reported as a failure
            else:
                raise CommandError(f"{path} does not exist.")
        return list(dict.fromkeys(files))

    def _index(self, bot: Bot, path: Path, *, reindex: bool, flags: dict, summary: Summary) -> None:
        try:
            metadata = self._metadata(path, flags)
            sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
            document = Document.objects.filter(bot=bot, sha256=sha256).first()
            if document is not None and metadata is not None and metadata != document.metadata:
                services.document_set_metadata(document=document, metadata=metadata)
                summary.tagged += 1
            if document is not None and not reindex:
                summary.skipped += 1
                return
            if document is None:
                with path.open("rb") as handle:
                    document = services.document_upload(
                        user=None,
                        bot=bot,
                        file=File(handle, name=path.name),
                        enqueue=False,
                        metadata=metadata,
                    )
            else:
                Document.objects.filter(pk=document.pk).update(status=DocumentStatus.PENDING)
            outcome = services.document_index(document_id=document.pk)
        except (DomainError, OSError) as exc:
            summary.failures.append((str(path), getattr(exc, "message", None) or str(exc)))
            return
        if outcome is None or outcome.status != DocumentStatus.READY:
            summary.failures.append((str(path), outcome.error if outcome else "It was deleted meanwhile."))
            return
        summary.documents += 1
        summary.pages += outcome.pages
        summary.chunks += outcome.chunks

    def _progress(self, done: int, total: int, label: str) -> None:
        filled = BAR_WIDTH * done // total
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        line = f"\r[{bar}] {done}/{total} {label[:40]:<40}"
        if sys.stderr.isatty():
            self.stderr.write(line, ending="")
            self.stderr.flush()
        elif done < total:  # a log, not a terminal: one line per file
            self.stderr.write(f"[{done + 1}/{total}] {label}")

    def _report(self, summary: Summary, seconds: float) -> None:
        self.stdout.write(
            f"Indexed {summary.documents} document(s): {summary.pages} page(s), {summary.chunks} chunk(s) "
            f"in {seconds:.1f} s; {summary.skipped} already indexed, {len(summary.failures)} failed."
            + (f" Metadata changed on {summary.tagged} already indexed." if summary.tagged else "")
        )
        for path, reason in summary.failures:
            self.stdout.write(self.style.ERROR(f"  FAILED {path}: {reason}"))

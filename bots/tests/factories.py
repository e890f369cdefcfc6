from __future__ import annotations

import io
import itertools
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from bots import services
from bots.knowledge.chunking import chunk_pages
from bots.knowledge.extraction import Page
from bots.knowledge.language import document_language
from bots.knowledge.search import index_document_chunks
from bots.models import Bot, Category, Chunk, Document, DocumentStatus

_sequence = itertools.count(1)


def make_category(**fields) -> Category:
    number = next(_sequence)
    fields.setdefault("name_es", f"Categoría {number}")
    fields.setdefault("name_en", f"Category {number}")
    return Category.objects.create(**fields)


def make_bot(*, owner: User | None, language: str = "en", configs: list[dict] | None = None, **fields) -> Bot:
    """A bot answering with the offline provider, or with the model `configs` given."""
    fields.setdefault("name_es", f"Bot {next(_sequence)}")
    fields.setdefault("name_en", "Helper")
    fields.setdefault("system_prompt", "You help with the company handbook.")
    bot = Bot.objects.create(owner=owner, language=language, **fields)
    for config in [{"provider": "local", "model_id": "local"}] if configs is None else configs:
        bot.model_configs.create(**config)
    return bot


def make_indexed_document(
    *,
    bot: Bot,
    text: str | list[str],
    name: str = "notes.txt",
    embed: bool = False,
    metadata: dict | None = None,
) -> Document:
    """A ready document whose chunks come from `text` (a list: one string per page),
    written the way the indexing service writes them, with `metadata` set by its service;
    with `embed`, also their vectors by the current embedder (without, the document is
    searched by keywords only)."""
    pages = [text] if isinstance(text, str) else text
    drafts = chunk_pages([Page(number, page) for number, page in enumerate(pages, 1)])
    document = Document.objects.create(
        bot=bot,
        file=f"documents/{name}",
        original_name=name,
        content_type="text/plain",
        size=sum(len(page) for page in pages),
        sha256="0" * 64,
        status=DocumentStatus.READY,
        page_count=len(pages),
        chunk_count=len(drafts),
    )
    Chunk.objects.bulk_create(
        Chunk(document=document, bot=bot, position=d.position, text=d.text, page_numbers=d.page_numbers)
        for d in drafts
    )
    index_document_chunks(
        document_id=document.pk, language=document_language([d.text for d in drafts], bot.language)
    )
    services.chat_bot_forget(bot_id=bot.pk)  # as indexing does: the bot has knowledge now
    if metadata is not None:
        services.document_set_metadata(document=document, metadata=metadata)
    if embed:
        Document.objects.filter(pk=document.pk).update(status=DocumentStatus.EMBEDDING)
        services.document_embed(document_id=document.pk)
        document.refresh_from_db()
    return document


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def upload_document(*, bot: Bot, name: str, content: bytes) -> Document:
    return services.document_upload(user=bot.owner, bot=bot, file=upload(name, content))


def pdf_bytes(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page ('' for a blank page)."""
    objects: list[bytes] = []
    page_ids = []
    font_id = 3
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"")  # the page tree, filled in below
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for text in pages:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("cp1252") if text else b""
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content_id = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content_id, font_id)
        )
        page_ids.append(len(objects))
    kids = b" ".join(b"%d 0 R" % page_id for page_id in page_ids)
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))
    return pdf_from_objects(objects)


def pdf_from_objects(objects: list[bytes]) -> bytes:
    """A PDF file of these objects (numbered from 1, the first the catalog), with its
    cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def docx_bytes(paragraphs: list[str], *, page_break_after: int | None = None) -> bytes:
    import docx

    document = docx.Document()
    for index, paragraph in enumerate(paragraphs):
        document.add_paragraph(paragraph)
        if page_break_after is not None and index == page_break_after:
            document.add_page_break()
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hello")
    return out.getvalue()

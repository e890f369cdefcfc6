"""Decompression bombs and oversized documents: a small upload that expands past the
MAX_DOCUMENT_* settings ends `failed` with a message naming the limit, found while the
file is read, with no chunk stored. The bombs are built here, small, on the fly."""

from __future__ import annotations

import io
import zipfile
import zlib
from unittest import mock

import pytest

from bots.knowledge import extraction
from bots.models import Chunk, Document, DocumentStatus
from bots.tests.factories import docx_bytes, make_bot, pdf_bytes, pdf_from_objects, upload_document

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def bot(user):
    return make_bot(owner=user, language="en")


@pytest.fixture
def index(bot, django_capture_on_commit_callbacks):
    """Upload a file and run its indexing task; the document as it ends."""

    def run(name: str, content: bytes) -> Document:
        with django_capture_on_commit_callbacks(execute=True):
            document = upload_document(bot=bot, name=name, content=content)
        document.refresh_from_db()
        return document

    return run


def docx_bomb(expanded_bytes: int) -> bytes:
    """A valid .docx whose document.xml repeats one paragraph until it is
    `expanded_bytes` long: a few KB on disk."""
    source = zipfile.ZipFile(io.BytesIO(docx_bytes(["Seed paragraph."])))
    xml = source.read("word/document.xml").decode()
    paragraph = "<w:p><w:r><w:t>" + "All work and no play. " * 20 + "</w:t></w:r></w:p>"
    body_end = xml.index("<w:sectPr")
    filler = paragraph * (expanded_bytes // len(paragraph) + 1)
    xml = xml[:body_end] + filler + xml[body_end:]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for item in source.infolist():
            data = xml.encode() if item.filename == "word/document.xml" else source.read(item.filename)
            bomb.writestr(item.filename, data)
    return out.getvalue()


def pdf_bomb(expanded_bytes: int) -> bytes:
    """A one-page PDF whose Flate-compressed content stream inflates to `expanded_bytes`."""
    content = b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET\n" + b" " * expanded_bytes
    stream = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
        b"/Resources << /Font << /F1 3 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    return pdf_from_objects(objects)


def assert_failed_naming(document: Document, setting: str) -> None:
    assert document.status == DocumentStatus.FAILED, document.error_message
    assert setting in document.error_message
    assert (document.chunk_count, document.page_count) == (0, 0)
    assert not Chunk.objects.filter(document=document).exists()


def test_the_defaults_are_sensible(settings):
    assert settings.MAX_DOCUMENT_EXPANDED_MB == 50
    assert settings.MAX_DOCUMENT_TEXT_CHARS == 5_000_000
    assert settings.MAX_DOCUMENT_PAGES == 2000
    assert settings.MAX_DOCUMENT_CHUNKS == 20_000


def test_a_docx_bomb_fails_on_its_declared_size_before_it_is_inflated(index, settings):
    settings.MAX_DOCUMENT_EXPANDED_MB = 1
    bomb = docx_bomb(3 * MB)
    assert len(bomb) < 50_000  # a few KB that expand to 3 MB
    with mock.patch("docx.Document") as parse:
        document = index("bomb.docx", bomb)
    parse.assert_not_called()
    assert_failed_naming(document, "MAX_DOCUMENT_EXPANDED_MB")


def test_a_docx_with_too_much_text_stops_at_the_limit_while_it_is_read(index, settings):
    settings.MAX_DOCUMENT_TEXT_CHARS = 10_000
    read = []
    original = extraction._Reading.text

    def counting(self, text):
        read.append(len(text))
        return original(self, text)

    with mock.patch.object(extraction._Reading, "text", counting):
        document = index("long.docx", docx_bomb(400_000))
    assert_failed_naming(document, "MAX_DOCUMENT_TEXT_CHARS")
    # It stopped at the paragraph that passed the limit, not at the end of the file.
    assert sum(read) < 11_000
    assert len(read) < 100


def test_a_docx_with_too_many_pages_fails(index, settings):
    settings.MAX_DOCUMENT_PAGES = 2
    paragraphs = [f"Page {number}." for number in range(6)]
    content = io.BytesIO()
    import docx

    word = docx.Document()
    for paragraph in paragraphs:
        word.add_paragraph(paragraph)
        word.add_page_break()
    word.save(content)
    assert_failed_naming(index("pages.docx", content.getvalue()), "MAX_DOCUMENT_PAGES")


def test_a_pdf_stream_bomb_fails_on_pypdfs_decompression_limit(index, settings):
    settings.MAX_DOCUMENT_EXPANDED_MB = 1
    bomb = pdf_bomb(3 * MB)
    assert len(bomb) < 20_000
    assert_failed_naming(index("bomb.pdf", bomb), "MAX_DOCUMENT_EXPANDED_MB")


def test_a_pdf_with_too_many_pages_fails_before_any_page_is_read(index, settings):
    from pypdf import PageObject

    settings.MAX_DOCUMENT_PAGES = 3
    with mock.patch.object(PageObject, "extract_text", autospec=True, return_value="text") as extract:
        document = index("pages.pdf", pdf_bytes([f"Page {number}" for number in range(10)]))
    extract.assert_not_called()
    assert_failed_naming(document, "MAX_DOCUMENT_PAGES")


def test_a_pdf_with_too_much_text_stops_at_the_page_that_passes_the_limit(index, settings):
    from pypdf import PageObject

    settings.MAX_DOCUMENT_TEXT_CHARS = 250
    with mock.patch.object(PageObject, "extract_text", autospec=True, return_value="x" * 100) as extract:
        document = index("text.pdf", pdf_bytes([f"Page {number}" for number in range(20)]))
    assert extract.call_count == 3
    assert_failed_naming(document, "MAX_DOCUMENT_TEXT_CHARS")


@pytest.mark.parametrize("name", ["notes.txt", "notes.md"])
def test_a_text_file_with_too_much_text_fails(index, settings, name):
    settings.MAX_DOCUMENT_TEXT_CHARS = 1000
    assert_failed_naming(index(name, b"Plain words. " * 200), "MAX_DOCUMENT_TEXT_CHARS")


def test_a_text_file_with_too_many_pages_fails(index, settings):
    settings.MAX_DOCUMENT_PAGES = 3
    assert_failed_naming(index("pages.txt", b"\f".join([b"A page."] * 5)), "MAX_DOCUMENT_PAGES")


def test_a_document_with_too_many_chunks_fails_and_stores_none(index, settings):
    settings.MAX_DOCUMENT_CHUNKS = 3
    text = "\n\n".join(f"Paragraph {number}. " + "Words of the handbook. " * 40 for number in range(10))
    assert_failed_naming(index("chunks.txt", text.encode()), "MAX_DOCUMENT_CHUNKS")


def test_a_document_within_every_limit_is_indexed(index, settings):
    settings.MAX_DOCUMENT_CHUNKS = 3
    settings.MAX_DOCUMENT_PAGES = 1
    settings.MAX_DOCUMENT_TEXT_CHARS = 100
    settings.MAX_DOCUMENT_EXPANDED_MB = 1
    document = index("small.docx", docx_bytes(["Refunds are paid within 30 days."]))
    assert document.status == DocumentStatus.READY
    assert document.chunk_count == 1


def test_the_issues_bomb_fails_with_the_default_limits(index):
    bomb = docx_bomb(62 * MB)  # the report: 213 KB on disk, 62 MB inflated
    assert len(bomb) < 1 * MB
    assert_failed_naming(index("bomb.docx", bomb), "MAX_DOCUMENT_EXPANDED_MB")


def lying_docx(expanded_bytes: int) -> bytes:
    """A .docx bomb whose zip directory claims document.xml is 100 bytes long."""
    data = bytearray(docx_bomb(expanded_bytes))
    name = b"word/document.xml"
    for signature, size_offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_offset = 46 if signature == b"PK\x01\x02" else 30
            if data[start + name_offset : start + name_offset + len(name)] == name:
                data[start + size_offset : start + size_offset + 4] = (100).to_bytes(4, "little")
            start += 4
    return bytes(data)


def test_a_docx_that_lies_about_its_size_is_never_inflated_past_what_it_declares(index, settings):
    settings.MAX_DOCUMENT_EXPANDED_MB = 1
    bomb = lying_docx(3 * MB)
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        assert archive.getinfo("word/document.xml").file_size == 100
    document = index("liar.docx", bomb)
    assert document.status == DocumentStatus.FAILED
    assert "damaged" in document.error_message
    assert not Chunk.objects.filter(document=document).exists()

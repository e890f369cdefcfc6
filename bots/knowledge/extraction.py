"""What kind of file an upload is, and its text page by page.

`sniff` runs at upload time on the first bytes and refuses what we cannot read (415);
`extract_pages` runs in the indexing task and raises `ExtractionError` with a message a
person can act on, which becomes the document's error.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from bots.errors import UnsupportedFileType

logger = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
SNIFF_BYTES = 64 * 1024
# Encodings tried, in order, for text that is not UTF-8. cp1252 covers most Western
# European text from Windows; latin-1 accepts any byte, so it comes last.
FALLBACK_ENCODINGS = ("cp1252", "latin-1")
# Control characters that real text does not contain (tab, newlines, form feed and
# escape are allowed).
_BINARY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
MAX_CONTROL_RATIO = 0.01


class ExtractionError(Exception):
    """The file cannot be turned into text; the message is shown to the user."""


class DocumentTooLarge(ExtractionError):
    """The document goes past one of `DocumentLimits`; the message names the limit."""


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """How much one document may become once read, checked while it is read: a small
    upload can expand enormously (a zip bomb in a .docx, compressed PDF streams), and the
    indexing worker would hold all of it in memory. The names are the settings."""

    text_chars: int | None = None  # MAX_DOCUMENT_TEXT_CHARS
    pages: int | None = None  # MAX_DOCUMENT_PAGES
    expanded_bytes: int | None = None  # MAX_DOCUMENT_EXPANDED_MB

    def too_much_text(self) -> DocumentTooLarge:
        return DocumentTooLarge(
            f"The document has more than {self.text_chars:,} characters of text (MAX_DOCUMENT_TEXT_CHARS). "
            "Split it into smaller files and upload them one by one."
        )

    def too_many_pages(self) -> DocumentTooLarge:
        return DocumentTooLarge(
            f"The document has more than {self.pages:,} pages (MAX_DOCUMENT_PAGES). "
            "Split it into smaller files and upload them one by one."
        )

    def expands_too_much(self) -> DocumentTooLarge:
        megabytes = (self.expanded_bytes or 0) // (1024 * 1024)
        return DocumentTooLarge(
            f"The document expands to more than {megabytes} MB when decompressed (MAX_DOCUMENT_EXPANDED_MB). "
            "Upload a smaller file."
        )


NO_LIMITS = DocumentLimits()


class _Reading:
    """Counts pages and characters as they are read and stops at the first limit passed;
    `progress` is called after each page or block (the indexing task's heartbeat)."""

    def __init__(self, limits: DocumentLimits, progress: Callable[[], None] | None) -> None:
        self.limits = limits
        self.progress = progress or (lambda: None)
        self.chars = 0
        self.pages = 0

    def page(self) -> None:
        self.pages += 1
        if self.limits.pages is not None and self.pages > self.limits.pages:
            raise self.limits.too_many_pages()
        self.progress()

    def text(self, text: str) -> str:
        self.chars += len(text)
        if self.limits.text_chars is not None and self.chars > self.limits.text_chars:
            raise self.limits.too_much_text()
        self.progress()
        return text


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    text: str


def extension_of(filename: str) -> str:
    return PurePath(filename).suffix.lower()


def sniff(*, filename: str, head: bytes) -> str:
    """The content type of an upload from its extension and first bytes, or
    `UnsupportedFileType` when the extension is not supported or the bytes disagree."""
    extension = extension_of(filename)
    content_type = CONTENT_TYPES.get(extension)
    if content_type is None:
        raise UnsupportedFileType(
            f"Files of type '{extension or 'without an extension'}' are not supported. "
            "Upload a .txt, .md, .pdf or .docx file."
        )
    if extension == ".pdf" and b"%PDF-" not in head[:1024]:
        raise UnsupportedFileType("The file is named .pdf but is not a PDF document.")
    if extension == ".docx" and not head.startswith(b"PK\x03\x04"):
        raise UnsupportedFileType("The file is named .docx but is not a Word document.")
    if extension in (".txt", ".md") and _looks_binary(head):
        raise UnsupportedFileType(
            f"The file is named {extension} but contains binary data, not text. "
            "Upload a text, PDF or Word document."
        )
    return content_type


def _looks_binary(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    text = _decode(head, final=False)
    if text is None:
        return True
    return len(_BINARY_CONTROL.findall(text)) > MAX_CONTROL_RATIO * max(len(text), 1)


def _decode(data: bytes, *, final: bool = True) -> str | None:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, else the first fallback encoding
    that decodes every byte."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    try:
        # Incremental, so that a sniffed head cut in the middle of a character still passes.
        return codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=final)
    except UnicodeDecodeError:
        pass
    for encoding in FALLBACK_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def extract_pages(
    *,
    data: bytes,
    filename: str,
    limits: DocumentLimits = NO_LIMITS,
    progress: Callable[[], None] | None = None,
) -> list[Page]:
    """The file's text, page by page (pages without text are left out). Raises
    `ExtractionError` when there is no text to index, and `DocumentTooLarge` as soon as
    the reading passes one of `limits`. `progress` is called as pages are read."""
    extension = extension_of(filename)
    reading = _Reading(limits, progress)
    if extension == ".pdf":
        pages = _pdf_pages(data, reading)
    elif extension == ".docx":
        pages = _docx_pages(data, reading)
    elif extension in (".txt", ".md"):
        pages = _text_pages(data, reading)
    else:
        raise ExtractionError(f"Files of type '{extension}' cannot be indexed.")
    pages = [Page(page.number, _normalise(page.text)) for page in pages]
    pages = [page for page in pages if page.text]
    if not pages:
        raise ExtractionError("The file contains no text to index.")
    return pages


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    # Hyphenated line breaks from PDFs ("informa-\nción") and trailing spaces.
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return text.strip()


def _text_pages(data: bytes, reading: _Reading) -> list[Page]:
    text = _decode(data)
    if text is None:
        raise ExtractionError("The text could not be decoded. Save it as UTF-8 and upload it again.")
    pages = []
    # A form feed separates pages in plain-text exports.
    for number, part in enumerate(text.split("\f"), start=1):
        reading.page()
        pages.append(Page(number, reading.text(part)))
    return pages


def _pdf_limits(limits: DocumentLimits) -> dict[str, int]:
    """pypdf's own caps on what one stream may decompress to, at our expanded-size limit."""
    if limits.expanded_bytes is None:
        return {}
    names = (
        "maximum_declared_stream_length",
        "array_based_stream_maximum_output_length",
        "jbig2_maximum_output_length",
        "lzw_maximum_output_length",
        "run_length_maximum_output_length",
        "zlib_maximum_output_length",
        "brotli_maximum_output_length",
        "image_maximum_buffer_size",
    )
    return {name: limits.expanded_bytes for name in names}


def _pdf_pages(data: bytes, reading: _Reading) -> list[Page]:
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PyPdfError

    limits = reading.limits
    try:
        with apply_configuration(**_pdf_limits(limits)):
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise ExtractionError(
                    "The PDF is protected by a password. Upload a copy without the password."
                )
            # The page count is known before any page is read.
            if limits.pages is not None and len(reader.pages) > limits.pages:
                raise limits.too_many_pages()
            pages = []
            for number, page in enumerate(reader.pages, 1):
                reading.page()
                pages.append(Page(number, reading.text(page.extract_text() or "")))
    except ExtractionError:
        raise
    except LimitReachedError as exc:
        logger.info("PDF past pypdf's limits: %s", exc)
        raise limits.expands_too_much() from exc
    except FileNotDecryptedError as exc:
        raise ExtractionError(
            "The PDF is protected by a password. Upload a copy without the password."
        ) from exc
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        logger.info("Unreadable PDF: %s", exc)
        raise ExtractionError(
            "The PDF is damaged and could not be read. Open it, save or export it again, and upload the new copy."
        ) from exc
    if not any(page.text.strip() for page in pages):
        raise ExtractionError(
            f"The PDF has {len(pages)} page(s) but no text that can be extracted; it is probably a scanned "
            "image. Upload a PDF with selectable text, or run it through OCR first."
        )
    return pages


DOCX_DAMAGED = (
    "The Word document is damaged and could not be read. Save it again as .docx and upload the new copy."
)


def _check_expanded_size(data: bytes, limits: DocumentLimits) -> None:
    """Refuse a .docx whose parts add up to more than the expanded-size limit, from the
    sizes its zip directory declares, before anything is decompressed. python-docx reads
    every part whole, and `zipfile` never inflates a part past its declared size (a part
    that holds more fails its CRC check), so the declared sizes bound what is read."""
    if limits.expanded_bytes is None:
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ExtractionError(DOCX_DAMAGED) from exc
    if declared > limits.expanded_bytes:
        raise limits.expands_too_much()


def _docx_pages(data: bytes, reading: _Reading) -> list[Page]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    _check_expanded_size(data, reading.limits)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ExtractionError(DOCX_DAMAGED) from exc
    pages: list[list[str]] = [[]]
    reading.page()
    body = document.element.body
    for block in body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            # An explicit page break starts a new page (Word's own layout is not stored).
            if block.xpath('.//w:br[@w:type="page"]') and pages[-1]:
                reading.page()
                pages.append([])
            pages[-1].append(reading.text("".join(node.text or "" for node in block.xpath(".//w:t"))))
        elif tag == "tbl":
            for row in block.xpath(".//w:tr"):
                cells = ["".join(t.text or "" for t in cell.xpath(".//w:t")) for cell in row.xpath("./w:tc")]
                pages[-1].append(reading.text(" | ".join(cell.strip() for cell in cells)))
    return [
        Page(number, "\n\n".join(part for part in lines if part.strip()))
        for number, lines in enumerate(pages, 1)
    ]

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


def extract_pages(*, data: bytes, filename: str) -> list[Page]:
    """The file's text, page by page (pages without text are left out). Raises
    `ExtractionError` when there is no text to index."""
    extension = extension_of(filename)
    if extension == ".pdf":
        pages = _pdf_pages(data)
    elif extension == ".docx":
        pages = _docx_pages(data)
    elif extension in (".txt", ".md"):
        pages = _text_pages(data)
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


def _text_pages(data: bytes) -> list[Page]:
    text = _decode(data)
    if text is None:
        raise ExtractionError("The text could not be decoded. Save it as UTF-8 and upload it again.")
    # A form feed separates pages in plain-text exports.
    return [Page(number, part) for number, part in enumerate(text.split("\f"), start=1)]


def _pdf_pages(data: bytes) -> list[Page]:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("The PDF is protected by a password. Upload a copy without the password.")
        pages = [Page(number, page.extract_text() or "") for number, page in enumerate(reader.pages, 1)]
    except ExtractionError:
        raise
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


def _docx_pages(data: bytes) -> list[Page]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ExtractionError(
            "The Word document is damaged and could not be read. Save it again as .docx and upload the new copy."
        ) from exc
    pages: list[list[str]] = [[]]
    body = document.element.body
    for block in body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            # An explicit page break starts a new page (Word's own layout is not stored).
            if block.xpath('.//w:br[@w:type="page"]') and pages[-1]:
                pages.append([])
            pages[-1].append("".join(node.text or "" for node in block.xpath(".//w:t")))
        elif tag == "tbl":
            for row in block.xpath(".//w:tr"):
                cells = ["".join(t.text or "" for t in cell.xpath(".//w:t")) for cell in row.xpath("./w:tc")]
                pages[-1].append(" | ".join(cell.strip() for cell in cells))
    return [
        Page(number, "\n\n".join(part for part in lines if part.strip()))
        for number, lines in enumerate(pages, 1)
    ]

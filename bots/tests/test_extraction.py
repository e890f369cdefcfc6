import pytest

from bots.errors import UnsupportedFileType
from bots.knowledge.extraction import ExtractionError, extract_pages, sniff
from bots.tests.factories import docx_bytes, pdf_bytes, zip_bytes


def test_it_reads_a_pdf_page_by_page_and_skips_blank_pages():
    pages = extract_pages(data=pdf_bytes(["Hola mundo", "", "Página tres"]), filename="guide.pdf")
    assert [(page.number, page.text) for page in pages] == [(1, "Hola mundo"), (3, "Página tres")]


def test_it_explains_a_corrupt_pdf():
    data = pdf_bytes(["Hola"])[:60] + b"garbage that is not a pdf body"
    with pytest.raises(ExtractionError, match="damaged"):
        extract_pages(data=data, filename="broken.pdf")


def test_it_explains_a_pdf_without_text():
    with pytest.raises(ExtractionError, match="no text that can be extracted"):
        extract_pages(data=pdf_bytes(["", ""]), filename="scan.pdf")


def test_it_reads_a_docx_with_its_page_breaks():
    data = docx_bytes(["Primera página.", "Sigue la primera.", "Segunda página."], page_break_after=1)
    pages = extract_pages(data=data, filename="manual.docx")
    assert [(page.number, page.text) for page in pages] == [
        (1, "Primera página.\n\nSigue la primera."),
        (2, "Segunda página."),
    ]


def test_it_explains_a_damaged_docx():
    with pytest.raises(ExtractionError, match="Word document is damaged"):
        extract_pages(data=zip_bytes(), filename="manual.docx")


def test_it_decodes_utf8_with_a_bom_and_splits_pages_on_form_feeds():
    data = "\ufeffUno\fDos".encode()
    assert [page.text for page in extract_pages(data=data, filename="a.txt")] == ["Uno", "Dos"]


def test_it_falls_back_to_windows_1252_for_text_that_is_not_utf8():
    data = "Información del año: 5 €".encode("cp1252")
    assert extract_pages(data=data, filename="a.txt")[0].text == "Información del año: 5 €"


def test_it_reads_utf16_text_with_a_bom():
    data = "Canción".encode("utf-16")
    assert extract_pages(data=data, filename="a.md")[0].text == "Canción"


def test_a_text_file_of_only_whitespace_has_nothing_to_index():
    with pytest.raises(ExtractionError, match="no text"):
        extract_pages(data=b" \n\n \t", filename="a.txt")


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("notes.txt", b"plain text", "text/plain"),
        ("README.MD", "# Título".encode(), "text/markdown"),
        ("a.pdf", b"%PDF-1.7\n...", "application/pdf"),
        (
            "a.docx",
            b"PK\x03\x04rest",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("latin.txt", "año".encode("latin-1"), "text/plain"),
    ],
)
def test_it_accepts_what_the_extension_promises(name, head, expected):
    assert sniff(filename=name, head=head) == expected


@pytest.mark.parametrize(
    ("name", "head"),
    [
        ("photo.png", b"\x89PNG\r\n"),
        ("noextension", b"text"),
        ("binary.txt", b"\x7fELF\x02\x01\x01\x00\x00\x00"),
        ("archive.md", zip_bytes()),
        ("random.txt", bytes(range(1, 32)) * 40),
        ("fake.pdf", b"hello, I am text"),
        ("fake.docx", b"hello, I am text"),
    ],
)
def test_it_refuses_what_it_cannot_read(name, head):
    with pytest.raises(UnsupportedFileType):
        sniff(filename=name, head=head)

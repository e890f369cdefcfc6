import pytest

from bots.knowledge.language import detect_language, document_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("¿Cuántos días tengo para devolver un artículo?", "es"),
        ("Las nóminas se pagan el último día hábil de cada mes.", "es"),
        ("How long is parental leave?", "en"),
        ("Is there a fee when I return an opened laptop?", "en"),
        ("Northwind", None),
        ("2024 1234", None),
        ("", None),
    ],
)
def test_the_language_of_a_text_comes_from_its_function_words(text, language):
    assert detect_language(text) == language


def test_a_document_without_telling_words_keeps_the_bots_language():
    assert document_language(["SKU-1234 500 ml"], "en") == "en"
    assert document_language(["The warranty covers defects."], "es") == "en"

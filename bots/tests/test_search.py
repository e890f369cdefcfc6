"""The same behaviour on PostgreSQL and SQLite: run with and without DATABASE_URL."""

import pytest
from django.db import connection

from bots.knowledge.search import MAX_K, search
from bots.tests.factories import make_bot, make_indexed_document
from bytchat.errors import InvalidInput

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(user):
    return make_bot(owner=user, language="es")


def _texts(hits):
    return [hit.text for hit in hits]


def test_it_finds_a_word_whatever_its_accents(bot):
    make_indexed_document(bot=bot, text="La canción del verano suena en la radio.")
    make_indexed_document(bot=bot, text="El tren sale a las ocho.")
    assert _texts(search(bot, "CANCION", 5)) == ["La canción del verano suena en la radio."]
    assert _texts(search(bot, "tren", 5)) == ["El tren sale a las ocho."]


def test_it_finds_accented_text_from_an_accented_or_plain_query_in_english_too(user):
    bot = make_bot(owner=user, language="en")
    make_indexed_document(bot=bot, text="The café serves crème brûlée on Sundays.")
    assert len(search(bot, "creme brulee", 5)) == 1
    assert len(search(bot, "café", 5)) == 1


def test_it_ranks_the_passage_with_every_word_first(bot):
    make_indexed_document(bot=bot, text="Las facturas se emiten cada mes.", name="a.txt")
    make_indexed_document(bot=bot, text="Los pagos con tarjeta se aceptan.", name="b.txt")
    make_indexed_document(bot=bot, text="Las facturas y los pagos se consultan en el panel.", name="c.txt")
    hits = search(bot, "facturas pagos", 5)
    assert hits[0].document_name == "c.txt"
    assert {hit.document_name for hit in hits} == {"a.txt", "b.txt", "c.txt"}
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_a_natural_question_finds_passages_with_some_of_its_words(bot):
    make_indexed_document(bot=bot, text="Para subir un documento, abre la pestaña Conocimiento.")
    hits = search(bot, "¿Cómo puedo subir mi documento al asistente?", 5)
    assert _texts(hits) == ["Para subir un documento, abre la pestaña Conocimiento."]


def test_quoted_phrases_and_exclusions_follow_web_search_syntax(bot):
    make_indexed_document(bot=bot, text="El plan gratuito incluye cinco conversaciones.", name="free.txt")
    make_indexed_document(bot=bot, text="El plan profesional no es gratuito.", name="pro.txt")
    assert [hit.document_name for hit in search(bot, '"plan gratuito"', 5)] == ["free.txt"]
    assert [hit.document_name for hit in search(bot, "plan -profesional", 5)] == ["free.txt"]


@pytest.mark.parametrize("query", ["", "   ", "el la de y", "?!... ,;", "-", '""'])
def test_a_query_with_nothing_to_search_for_finds_nothing(bot, query):
    make_indexed_document(bot=bot, text="El la de y: texto cualquiera.")
    assert search(bot, query, 5) == []


def test_it_searches_only_the_given_bots_knowledge(bot, other_user):
    other_bot = make_bot(owner=other_user, language="es")
    make_indexed_document(bot=other_bot, text="Secreto: la contraseña del wifi.")
    make_indexed_document(bot=bot, text="Nada que ver con redes.")
    assert search(bot, "contraseña wifi", 5) == []
    assert len(search(other_bot, "contraseña wifi", 5)) == 1


def test_it_returns_at_most_k_hits_with_their_document_pages_and_a_snippet(bot):
    pages = [
        f"Página {page}: el inventario de almacén número {page} está completo. " + "Texto de relleno. " * 50
        for page in range(1, 9)
    ]
    document = make_indexed_document(bot=bot, text=pages)
    hits = search(bot, "inventario", 3)
    assert len(hits) == 3
    for hit in hits:
        assert hit.document_id == document.pk
        assert hit.document_name == "notes.txt"
        assert hit.page_numbers and all(isinstance(page, int) for page in hit.page_numbers)
        assert "inventario" in hit.snippet
        assert len(hit.snippet) <= 245


def test_a_long_chunk_gets_a_snippet_around_the_match(bot):
    make_indexed_document(bot=bot, text="Relleno sin interés. " * 30 + "La clave está en el índice final.")
    [hit] = search(bot, "indice", 1)
    assert "índice" in hit.snippet
    assert hit.snippet.startswith("…")


def test_deleting_a_document_removes_it_from_search(bot):
    document = make_indexed_document(bot=bot, text="Manual del router.")
    document.delete()
    assert search(bot, "router", 5) == []


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1])
def test_k_out_of_range_is_invalid_input(bot, k):
    with pytest.raises(InvalidInput):
        search(bot, "router", k)


def test_many_matches_of_a_common_word_still_return_the_best_k(bot):
    make_indexed_document(bot=bot, text=["\n\n".join(f"Garantía número {n}." for n in range(60))])
    make_indexed_document(
        bot=bot, text="Garantía y devolución: la garantía cubre la devolución.", name="best.txt"
    )
    hits = search(bot, "garantía devolución", 3)
    assert hits[0].document_name == "best.txt"
    assert len(hits) == 3


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite ranks every match in FTS5")
def test_more_matches_than_candidates_still_find_the_best_chunk_on_sqlite(bot):
    from bots.knowledge.sqlite import CANDIDATES

    # A chunk per page: each mentions the word once among a thousand characters of others.
    filler = " ".join(["Las condiciones generales del contrato se revisan cada año."] * 16)
    pages = [f"Sección {n}: la garantía aplica. {filler}" for n in range(CANDIDATES + 50)]
    make_indexed_document(bot=bot, text=pages)
    make_indexed_document(bot=bot, text="Garantía, garantía: todo sobre la garantía.", name="best.txt")
    assert search(bot, "garantía", 1)[0].document_name == "best.txt"

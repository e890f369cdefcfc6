"""The chat engine's knowledge search: hybrid citations, the keyword fallback recorded in
the Run, and the offline answer built from the sentence that answers the question."""

import pytest

from bots.tests.factories import make_bot, make_indexed_document
from chat.llm.base import Source
from chat.llm.local import select_sentences
from chat.models import Citation, Run

pytestmark = pytest.mark.django_db


def _ask(client, bot, message):
    response = client.post(
        "/api/v1/chat", {"bot": str(bot.pk), "message": message, "stream": False}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_citations_carry_the_fused_score_and_the_retriever(user, user_client):
    bot = make_bot(owner=user, language="en")
    make_indexed_document(bot=bot, text="Refunds are accepted within 30 days.", name="refunds.md", embed=True)
    _ask(user_client, bot, "Are refunds accepted within 30 days?")
    citation = Citation.objects.get()
    assert citation.retriever == "both" and citation.score > 0
    assert Run.objects.get().search_fallback == ""


def test_a_failing_query_embedding_falls_back_to_keywords_and_the_run_says_so(
    user, user_client, fake_embedder
):
    bot = make_bot(owner=user, language="en")
    make_indexed_document(bot=bot, text="Refunds are accepted within 30 days.", name="refunds.md", embed=True)
    fake_embedder.fail = True
    body = _ask(user_client, bot, "How many days for refunds?")
    assert "30 days" in body["assistant_message"]["content"]
    assert Citation.objects.get().retriever == "keyword"
    assert "fake embedder" in Run.objects.get().search_fallback


SOURCES = [
    Source(
        index=1,
        text=(
            "Nuestra tienda abrió en 1998 en Valencia. Tienes treinta días naturales para devolver "
            "un artículo desde que lo recibes. Los envíos a Canarias tardan una semana."
        ),
        source_name="politica.md",
    ),
    Source(
        index=2,
        text="The warehouse is in Madrid. Our drivers deliver from Monday to Saturday.",
        source_name="logistics.md",
    ),
]


def test_the_local_answer_quotes_the_sentence_that_answers_across_languages(local_embedder):
    chosen = select_sentences("How long do I have to send an item back?", SOURCES)
    assert chosen[0][0].startswith("Tienes treinta días naturales") and chosen[0][1].index == 1

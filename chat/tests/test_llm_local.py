"""The offline `local` provider: extractive answers with citations, no network."""

from __future__ import annotations

import asyncio
import re

from chat.llm import ChatMessage, ChatRequest, ModelSpec, Source, TextDelta, Usage, provider_for

SPEC = ModelSpec("local", "extractive")

SOURCES = [
    Source(
        index=3,
        text="Las devoluciones se aceptan durante 30 días desde la compra. El envío es gratuito.",
        source_name="politica.pdf",
        page_numbers=[2],
    ),
    Source(
        index=7,
        text="Refunds are issued within 30 days of purchase.\nShipping is free for orders over 50 euros.",
        source_name="policy.md",
    ),
]


def ask(question: str, language: str = "en", sources=SOURCES) -> list:
    request = ChatRequest(
        system_prompt="You are the shop's assistant.",
        messages=[
            ChatMessage("user", "hello"),
            ChatMessage("assistant", "Hi!"),
            ChatMessage("user", question),
        ],
        sources=sources,
        language=language,
    )

    async def consume() -> list:
        return [item async for item in provider_for(SPEC).stream(SPEC, request)]

    return asyncio.run(consume())


def answer_of(items: list) -> str:
    return "".join(item.text for item in items if isinstance(item, TextDelta))


def test_it_quotes_the_relevant_sentence_with_its_sources_marker():
    answer = answer_of(ask("How long do refunds take?"))

    assert answer == "According to this bot's documents: Refunds are issued within 30 days of purchase [7]."


def test_its_markers_only_name_the_sources_it_was_given():
    answer = answer_of(ask("¿Cuántos días hay para las devoluciones y el envío?", "es"))

    markers = {int(number) for number in re.findall(r"\[(\d+)\]", answer)}
    assert markers == {3}
    assert "Las devoluciones se aceptan durante 30 días desde la compra [3]." in answer


def test_it_answers_in_spanish_or_english():
    assert answer_of(ask("¿Cuántos días tengo para devolver algo?", "es")).startswith(
        "Según los documentos de este bot:"
    )
    assert answer_of(ask("Is shipping free?", "en")).startswith("According to this bot's documents:")


def test_it_matches_words_across_accents_and_plurals():
    answer = answer_of(ask("devolucion dias", "es"))

    assert "[3]" in answer


def test_it_says_plainly_when_nothing_is_relevant():
    assert answer_of(ask("What is the capital of France?", "en")) == (
        "I couldn't find anything about that in this bot's documents."
    )
    assert answer_of(ask("¿Cuál es la capital de Francia?", "es")) == (
        "No encuentro información sobre eso en los documentos de este bot."
    )


def test_it_says_so_when_there_is_no_knowledge_at_all():
    assert answer_of(ask("How long do refunds take?", "en", sources=[])) == (
        "I couldn't find anything about that in this bot's documents."
    )


def test_a_question_of_only_stop_words_finds_nothing():
    assert (
        answer_of(ask("what is this?", "en"))
        == "I couldn't find anything about that in this bot's documents."
    )


def test_it_is_deterministic():
    assert ask("How long do refunds take, and is shipping free?") == ask(
        "How long do refunds take, and is shipping free?"
    )


def test_it_streams_small_pieces_then_usage():
    items = ask("How long do refunds take?")

    deltas = [item for item in items if isinstance(item, TextDelta)]
    assert len(deltas) > 1
    assert all(len(delta.text.split()) <= 3 for delta in deltas)
    assert isinstance(items[-1], Usage)
    assert items[-1].input_tokens > items[-1].output_tokens > 0
    assert sum(isinstance(item, Usage) for item in items) == 1


def test_overlapping_chunks_are_quoted_once():
    repeated = [*SOURCES, Source(index=8, text=SOURCES[1].text, source_name="policy-copy.md")]

    answer = answer_of(ask("How long do refunds take?", sources=repeated))

    assert answer.count("Refunds are issued") == 1

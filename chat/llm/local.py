"""The offline provider: an extractive answer from the retrieved knowledge, with citations.

It quotes the sentences of the sources that best match the user's question, each followed
by the `[n]` of its source. A sentence matches by meaning (the knowledge embedder of
`bots.knowledge.embeddings`, the offline multilingual-e5-small by default, so an English
question finds a Spanish sentence) and, as a tie-breaker, by the (rarer) words it shares
with the question. If the embedder fails, words alone decide. No network, no download,
the same output for the same input.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from .base import ChatRequest, ModelSpec, Source, StreamItem, TextDelta, Usage, estimate_tokens
from .prompting import build_system_instruction

logger = logging.getLogger(__name__)

MAX_SENTENCES = 3
# A sentence that shares no word with the question must be at least this similar to it
# (cosine of the local embedder's language-neutral vectors: the sentence that answers a
# question scores 0.26-0.42 in bench/retrieval_bench.py's set, its best neighbour 0.34).
MIN_SIMILARITY = 0.2
# Quoted with the best sentence: those this close to it in similarity.
SIMILARITY_MARGIN = 0.1
# Word overlap breaks near-ties of similarity: at most this much is added.
WORD_WEIGHT = 0.03
MAX_EMBEDDED_SENTENCES = 60
MAX_SENTENCE_CHARS = 320
WORDS_PER_DELTA = 3
STEM_LENGTH = 5

LEAD_IN = {
    "es": "Según los documentos de este bot:",
    "en": "According to this bot's documents:",
}
NOTHING_FOUND = {
    "es": "No encuentro información sobre eso en los documentos de este bot.",
    "en": "I couldn't find anything about that in this bot's documents.",
}

_ENGLISH_STOP_WORDS = """
    a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself
    just me more most my no nor not now of off on once only or other our ours out over own
    same she should so some such than that the their theirs them then there these they this
    those through to too under until up very was we were what when where which while who
    whom why will with would you your yours please tell know want need give show explain
"""
_SPANISH_STOP_WORDS = """
    al algo algun alguna algunas alguno algunos ante antes aqui asi aun cada como con contra
    cual cuales cuando cuanto de del desde donde dos el ella ellas ellos en entre era eran
    es esa esas ese eso esos esta estan estas este esto estos fue fueron ha han hasta hay la
    las le les lo los mas me mi mis mucho muy nada ni no nos nosotros o otra otras otro otros
    para pero poco por porque que quien quienes se ser si sin sobre son su sus tambien tan
    te tengo ti tiene tienen todo todos tu tus un una unas uno unos usted ustedes ya yo
    puedes puede podria dime decir saber quiero necesito explica favor
"""
# Both languages apply whatever the bot's language: documents and questions mix them.
STOP_WORDS = frozenset((_ENGLISH_STOP_WORDS + _SPANISH_STOP_WORDS).split())

_WORD = re.compile(r"\w+")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
_TERMINAL = re.compile(r"[.!?]+$")
_PIECE = re.compile(r"\S+\s*")


def _fold(text: str) -> str:
    """Lower-case without accents, so that `Política` and `politica` are one term."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _terms(text: str) -> set[str]:
    terms = set()
    for word in _WORD.findall(_fold(text)):
        if len(word) < 2 or word in STOP_WORDS:
            continue
        # A crude plural fold (`refunds`, `documentos`), then truncation: the first letters
        # of a word carry most of its meaning in both languages (`devolver`, `devoluciones`).
        if len(word) > 3 and word.endswith("s"):
            word = word[:-1]
        if word not in STOP_WORDS:
            terms.add(word[:STEM_LENGTH])
    return terms


@dataclass(frozen=True, slots=True)
class _Candidate:
    text: str
    terms: frozenset[str]
    source: Source
    source_rank: int
    position: int


def _shorten(sentence: str) -> str:
    if len(sentence) <= MAX_SENTENCE_CHARS:
        return sentence
    cut = sentence[:MAX_SENTENCE_CHARS].rsplit(" ", 1)[0]
    return f"{cut}…"


def _candidates(sources: Sequence[Source]) -> list[_Candidate]:
    seen: set[str] = set()
    candidates = []
    for source_rank, source in enumerate(sources):
        for position, raw in enumerate(_SENTENCE_BREAK.split(source.text)):
            sentence = " ".join(raw.split())
            key = _fold(sentence)
            # Neighbouring chunks overlap; quote a sentence once, from its best source.
            if not _WORD.search(sentence) or key in seen:
                continue
            seen.add(key)
            terms = frozenset(_terms(sentence))
            if terms:
                candidates.append(_Candidate(_shorten(sentence), terms, source, source_rank, position))
    return candidates


# Set by the chat app (`ChatConfig.ready`) to the knowledge embedder's
# `sentence_similarities`: this package imports no app.
_sentence_similarity: Callable[[str, Sequence[str]], Sequence[float]] | None = None


def use_sentence_similarity(function: Callable[[str, Sequence[str]], Sequence[float]] | None) -> None:
    global _sentence_similarity
    _sentence_similarity = function


def _similarities(question: str, candidates: Sequence[_Candidate]) -> list[float] | None:
    """Cosine similarity of each sentence with the question, or None without an embedder."""
    if _sentence_similarity is None:
        return None
    try:
        return [float(value) for value in _sentence_similarity(question, [c.text for c in candidates])]
    except Exception as exc:  # any embedder failure: the words still answer
        logger.warning("Sentence embedding failed, choosing sentences by words: %s", exc)
        return None


def select_sentences(question: str, sources: Sequence[Source]) -> list[tuple[str, Source]]:
    """The sentences most relevant to the question, best first, each with its source."""
    question_terms = _terms(question)
    candidates = _candidates(sources)[:MAX_EMBEDDED_SENTENCES]
    if not candidates or not question.strip():
        return []
    document_frequency = {term: 0 for term in question_terms}
    for candidate in candidates:
        for term in question_terms & candidate.terms:
            document_frequency[term] += 1
    weight = {
        term: math.log(1 + len(candidates) / count) for term, count in document_frequency.items() if count
    }
    word_scores = [sum(weight[term] for term in question_terms & c.terms) for c in candidates]
    similarities = _similarities(question, candidates)
    # One shared word is enough for a short question; a longer one must share two.
    min_overlap = 1 if len(question_terms) <= 3 else 2
    best_words = max(word_scores) or 1.0
    scored = []
    for index, candidate in enumerate(candidates):
        overlap = len(question_terms & candidate.terms)
        if similarities is None:
            if overlap < min_overlap:
                continue
            score = word_scores[index]
        else:
            if overlap < min_overlap and similarities[index] < MIN_SIMILARITY:
                continue
            score = similarities[index] + WORD_WEIGHT * word_scores[index] / best_words
        scored.append((-score, -candidate.source.score, candidate.source_rank, candidate.position, candidate))
    scored.sort(key=lambda row: row[:4])
    if not scored:
        return []
    best = -scored[0][0]
    threshold = best / 2 if similarities is None else best - SIMILARITY_MARGIN
    chosen = [row[4] for row in scored if -row[0] >= threshold][:MAX_SENTENCES]
    return [(candidate.text, candidate.source) for candidate in chosen]


def _cite(sentence: str, index: int) -> str:
    """Put the marker before the closing punctuation: `... 30 days [1].`"""
    match = _TERMINAL.search(sentence)
    if match:
        return f"{sentence[: match.start()]} [{index}]{match.group()}"
    return f"{sentence} [{index}]."


def compose_answer(request: ChatRequest) -> str:
    language = request.language if request.language in LEAD_IN else "en"
    selected = select_sentences(request.question, request.sources)
    if not selected:
        return NOTHING_FOUND[language]
    quoted = " ".join(_cite(sentence, source.index) for sentence, source in selected)
    return f"{LEAD_IN[language]} {quoted}"


def split_pieces(text: str, words_per_piece: int = WORDS_PER_DELTA) -> list[str]:
    """Small pieces that join back to exactly `text`."""
    words = _PIECE.findall(text)
    return [
        "".join(words[start : start + words_per_piece]) for start in range(0, len(words), words_per_piece)
    ]


class LocalProvider:
    async def stream(self, spec: ModelSpec, request: ChatRequest) -> AsyncIterator[StreamItem]:
        answer = compose_answer(request)
        for stop in spec.stop:  # as a model does: the answer ends before a stop sequence
            answer = answer.split(stop, 1)[0]
        for piece in split_pieces(answer):
            yield TextDelta(piece)
        prompt = [build_system_instruction(request), *(message.content for message in request.messages)]
        yield Usage(input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens([answer]))

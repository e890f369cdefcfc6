"""Knowledge search: the one function the chat engine and the search API call.

`search(bot, query, k)` returns the bot's best `k` chunks for a query, fusing two
retrievers by reciprocal rank (the bot's `search_mode` picks one or both):

- keyword: PostgreSQL full-text search (`bots.knowledge.postgres`) or SQLite FTS5
  (`bots.knowledge.sqlite`), per the document language;
- semantic: exact cosine similarity of the query's embedding with the chunk vectors
  (`bots.knowledge.vectors`), the best candidates ranked again by their best sentence and
  pair of sentences; it also matches across languages.

If the query cannot be embedded, the search falls back to keywords and says so in
`SearchResult.fallback`. `index_document_chunks` writes the keyword index of freshly
written chunks and must run in the transaction that wrote them.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from bots.knowledge import vectors
from bots.knowledge.embeddings import EmbeddingError, embeddings_enabled, get_embedder
from bots.knowledge.language import detect_language
from bots.knowledge.query import MAX_QUERY_CHARS, ParsedQuery, fold, parse_query
from bots.models import Chunk, SearchMode
from bytchat.errors import InvalidInput

logger = logging.getLogger(__name__)

MAX_K = 50
SNIPPET_CHARS = 240
# Reciprocal-rank fusion: score = sum over retrievers of 1 / (RRF_K + rank).
RRF_K = 60
# Each retriever proposes this many candidates per hit asked for (at least MIN_CANDIDATES).
CANDIDATES_PER_HIT = 4
MIN_CANDIDATES = 20
# The semantic side ranks this many chunks by their sentences too (one indexed query).
RERANK_CANDIDATES = 20
# Threads that embed questions while the full-text query runs (a local model serialises
# its calls; a remote embedder's wait is network time).
_QUERY_EMBEDDINGS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="bytchat-query-embedding")


class Retriever:
    KEYWORD = "keyword"
    SEMANTIC = "semantic"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class SearchHit:
    chunk_id: int
    document_id: Any
    document_name: str
    position: int
    text: str
    page_numbers: list[int]
    score: float
    snippet: str = field(default="", compare=False)
    retriever: str = Retriever.KEYWORD
    # The semantic score when the semantic retriever saw the chunk: the mean of its
    # cosine with the query, its best sentence's and its best pair of neighbouring
    # sentences' (`vectors.rerank`).
    similarity: float | None = None
    # The document's metadata, for citations ("DSCR matrix, page 2").
    metadata: dict = field(default_factory=dict, compare=False)


class SearchResult(list):
    """The hits, best first; `fallback` says why the semantic side was skipped, if it was."""

    fallback: str = ""


def _backend() -> ModuleType:
    if connection.vendor == "postgresql":
        from bots.knowledge import postgres

        return postgres
    if connection.vendor == "sqlite":
        from bots.knowledge import sqlite

        return sqlite
    raise NotImplementedError(f"No knowledge search backend for {connection.vendor}.")


def search(
    bot, query: str, k: int | None = None, *, documents: QuerySet | None = None, mode: str | None = None
) -> SearchResult:
    """The bot's `k` best chunks for `query`, best first (`k` unset: the bot's `top_k`).

    `documents` (a Document queryset, e.g. from `bots.knowledge.filters.filter_documents`)
    restricts both retrievers to those documents inside their candidate queries, before
    ranking: the top k all come from them. None: every document of the bot. `mode`
    overrides the bot's `search_mode`. A query with nothing to search for (only stop words
    or punctuation) finds nothing; it is not an error."""
    if k is None:
        k = bot.top_k or settings.CHAT_KNOWLEDGE_CHUNKS
    if not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidInput(
            f"k must be between 1 and {MAX_K}.", fields={"k": [f"Must be between 1 and {MAX_K}."]}
        )
    mode = mode or bot.search_mode or SearchMode.HYBRID
    query = (query or "")[:MAX_QUERY_CHARS]
    # Stop words and stemming follow the question's language, which may not be the bot's.
    language = detect_language(query) or bot.language
    parsed = parse_query(query, language=language)
    if not embeddings_enabled():
        mode = SearchMode.KEYWORD
    elif mode == SearchMode.HYBRID and parsed.exact:
        # "Quoted phrases" and -exclusions ask for exact words: meaning would bring back
        # what the user just excluded. (`or` keeps meaning: "fly or take the train?")
        mode = SearchMode.KEYWORD
    result = SearchResult()
    if not query.strip() or (parsed.is_empty and mode == SearchMode.KEYWORD):
        return result
    document_ids: list[Any] | None = None
    if documents is not None:
        if documents.query.is_empty():  # `.none()`: no document, no SQL to compile
            return result
        # Resolved once (one indexed query on the typed metadata), so that both retrievers
        # restrict their candidates to the same documents, by id: a few hundred ids at most
        # for a bot's knowledge, where the SQL of the filter inside each candidate query
        # was computed again per query, and the vector side needed the ids anyway.
        document_ids = list(documents.filter(bot=bot).order_by().values_list("pk", flat=True))
        if not document_ids:
            return result
    candidates = k if mode != SearchMode.HYBRID else max(MIN_CANDIDATES, k * CANDIDATES_PER_HIT)

    def keyword_search(*, loose: bool) -> list[tuple]:
        return _backend().search_chunks(
            bot_id=bot.pk,
            language=language,
            query=parsed,
            k=candidates,
            document_ids=document_ids,
            loose=loose,
        )

    keyword_rows: list[tuple] = []
    semantic_rows: list[tuple[int, float]] = []
    if mode == SearchMode.KEYWORD:
        if not parsed.is_empty:
            keyword_rows = keyword_search(loose=True)
    else:
        embedder = get_embedder()
        # The question's embedding (a model call) runs while the full-text query runs here.
        embedding = _QUERY_EMBEDDINGS.submit(embedder.embed_queries, [query])
        # The bot's vectors (cached) tell whether there is meaning to search.
        loaded = (
            vectors.bot_vectors(bot.pk, embedder.key, embedder.dimensions) if embedder.dimensions else None
        )
        searchable = loaded is None or vectors.has_rows(loaded, document_ids)
        if mode == SearchMode.HYBRID and not parsed.is_empty:
            # Beside meaning, words count when a chunk has every one of them: chunks that
            # share one word of a question outrank its answer in the other language
            # (bench/retrieval_bench.py). With no vectors to search (documents not yet
            # embedded), any of the words will do, as in keyword mode.
            keyword_rows = keyword_search(loose=not searchable)
        try:
            vector = embedding.result()[0]
        except EmbeddingError as exc:
            logger.warning("Query embedding failed for bot %s, searching by keywords: %s", bot.pk, exc)
            result.fallback = str(exc)[:500] or "embedding failed"
            mode, candidates = SearchMode.KEYWORD, k
            keyword_rows = keyword_search(loose=True) if not parsed.is_empty else []
        else:
            if loaded is None or loaded.matrix.shape[1] != len(vector):
                loaded = vectors.bot_vectors(bot.pk, embedder.key, len(vector))
            semantic_rows = _semantic(bot, loaded, vector, candidates, document_ids)
            if mode == SearchMode.HYBRID and searchable and not semantic_rows and not parsed.is_empty:
                keyword_rows = keyword_search(loose=True)  # none close enough in meaning
    result.extend(_fuse(keyword_rows, semantic_rows, parsed, k=k, mode=mode))
    return result


def _semantic(bot, loaded, vector, k: int, document_ids: list[Any] | None) -> list[tuple[int, float]]:
    """The `k` chunks closest in meaning to the question's `vector` among the bot's
    `loaded` vectors: the best by chunk vector, ranked again with their best sentences
    (`vectors.rerank`); the bot's minimum similarity applies to that final score."""
    candidates = vectors.top_k(
        loaded,
        vector,
        k=max(k, RERANK_CANDIDATES),
        document_ids=None if document_ids is None else set(document_ids),
    )
    ranked = vectors.rerank(candidates, vector)
    if bot.min_similarity is not None:
        ranked = [(chunk_id, score) for chunk_id, score in ranked if score >= bot.min_similarity]
    return ranked[:k]


def fuse_ranks(rankings: list[list[Any]], *, rrf_k: int = RRF_K) -> list[tuple[Any, float]]:
    """Reciprocal-rank fusion of several best-first rankings: (item, score), best first;
    ties keep the order of first appearance."""
    scores: dict[Any, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (rrf_k + rank)
    order = {item: index for index, item in enumerate(dict.fromkeys(i for r in rankings for i in r))}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))


def _fuse(keyword_rows, semantic_rows, parsed: ParsedQuery, *, k: int, mode: str) -> list[SearchHit]:
    keyword = {row[0]: row for row in keyword_rows}
    similarity = dict(semantic_rows)
    if mode == SearchMode.KEYWORD:
        ranked = [(row[0], float(row[6])) for row in keyword_rows[:k]]
    elif mode == SearchMode.SEMANTIC:
        ranked = semantic_rows[:k]
    else:
        ranked = fuse_ranks([list(keyword), [chunk_id for chunk_id, _ in semantic_rows]])[:k]
    missing = [chunk_id for chunk_id, _ in ranked if chunk_id not in keyword]
    details, metadata = {}, {}
    for chunk in (
        Chunk.objects.filter(id__in=missing)
        .select_related("document")
        .only(
            "id",
            "document_id",
            "document__original_name",
            "document__metadata",
            "position",
            "text",
            "page_numbers",
        )
    ):
        details[chunk.id] = (
            chunk.id,
            chunk.document_id,
            chunk.document.original_name,
            chunk.position,
            chunk.text,
            chunk.page_numbers,
            0.0,
        )
        metadata[str(chunk.document_id)] = chunk.document.metadata or {}
    # The keyword backends' rows carry no metadata: one query for their other documents.
    metadata.update(_metadata({row[1] for row in keyword.values()} - {row[1] for row in details.values()}))
    hits = []
    for chunk_id, score in ranked:
        row = keyword.get(chunk_id) or details.get(chunk_id)
        if row is None:  # deleted since the vectors were cached
            continue
        found_by_words, found_by_meaning = chunk_id in keyword, chunk_id in similarity
        retriever = (
            Retriever.BOTH
            if found_by_words and found_by_meaning
            else Retriever.SEMANTIC
            if found_by_meaning
            else Retriever.KEYWORD
        )
        _, document_id, document_name, position, text, page_numbers, _ = row
        hits.append(
            SearchHit(
                chunk_id=chunk_id,
                document_id=document_id,
                document_name=document_name,
                position=position,
                text=text,
                page_numbers=list(page_numbers or []),
                score=float(score),
                snippet=make_snippet(text, parsed),
                retriever=retriever,
                similarity=similarity.get(chunk_id),
                metadata=metadata.get(str(document_id), {}),
            )
        )
    return hits


def _metadata(document_ids: set[Any]) -> dict[str, dict]:
    """Each hit's document metadata, for citations ("DSCR matrix, page 2")."""
    if not document_ids:
        return {}
    from bots.models import Document

    return {
        str(pk): metadata or {}
        for pk, metadata in Document.objects.filter(pk__in=document_ids).values_list("pk", "metadata")
    }


def index_document_chunks(*, document_id: Any, language: str) -> None:
    """Index every chunk of a document (they were just written, in this transaction)."""
    _backend().index_chunks(document_id=document_id, language=language)


def make_snippet(text: str, query: ParsedQuery, size: int = SNIPPET_CHARS) -> str:
    """A window of the text around the first word of the query it contains, cut at words."""
    text = " ".join(text.split())
    if len(text) <= size:
        return text
    folded = fold(text)
    start = len(text)
    for word in query.words:
        # A prefix, so that a stemmed match ("facturas" for "factura") is found too.
        stem = word[: max(4, len(word) - 2)]
        found = re.search(rf"\b{re.escape(stem)}", folded)
        if found:
            start = min(start, found.start())
    if start == len(text):
        start = 0
    begin = max(0, min(start - size // 4, len(text) - size))
    end = begin + size
    if begin > 0:
        begin = text.find(" ", begin) + 1 or begin
    if end < len(text):
        end = text.rfind(" ", begin, end) if text.rfind(" ", begin, end) > begin else end
    return ("…" if begin > 0 else "") + text[begin:end].strip() + ("…" if end < len(text) else "")

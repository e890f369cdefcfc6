"""PostgreSQL knowledge search: a stored tsvector per chunk with a GIN index.

Each document is indexed in its own language's configuration (migration 0002 creates
`bytchat_es`, `bytchat_en` and `bytchat_simple`, each unaccent + the language's stemmer),
so "canción" finds "cancion". A bot may hold documents in both languages, so a natural
question is read in every configuration (`websearch_to_tsquery` of each, joined by OR):
its Spanish stems find the Spanish chunks, its English stems the English ones. A query
with web-search syntax is read in the question's language only.

Ranking cost is bounded: each query takes at most `CANDIDATES` matching rows in whatever
order the index hands them over (no sort over every match), ranks only those with
`ts_rank_cd` and returns the top `k`. A term found in half the corpus therefore costs
about what a rare one costs. For a natural-language question, the chunks that contain
every word come first (a separate candidate set, so they are not crowded out by chunks
that contain only its common words), then the chunks that contain some of them.

A document restriction (a metadata filter, resolved to document ids) goes inside each
candidate subquery (`document_id = ANY(%(documents)s)`), so the candidates, and therefore
the top `k`, all match it.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection

from bots.knowledge.query import ParsedQuery

CONFIGURATIONS = {"es": "bytchat_es", "en": "bytchat_en"}
FALLBACK_CONFIGURATION = "bytchat_simple"
CANDIDATES = 300

_ONE_CONFIGURATION = "websearch_to_tsquery(%(config)s::regconfig, %(query)s)"
# A natural question is read in every configuration. Not one with exclusions: "-word" in
# English stems would let through the Spanish chunks that hold the Spanish stem.
_EVERY_CONFIGURATION = (
    "("
    + " || ".join(
        f"websearch_to_tsquery('{name}'::regconfig, %(query)s)"
        for name in (*CONFIGURATIONS.values(), FALLBACK_CONFIGURATION)
    )
    + ")"
)


def _loose(strict: str) -> str:
    """The same query with OR between its words: websearch_to_tsquery joins plain words
    with ' & ' and nothing else, and a natural-language query has no other syntax."""
    return f"replace({strict}::text, ' & ', ' | ')::tsquery"


_CANDIDATES = """
    (SELECT id, search_vector FROM bots_chunk
     WHERE bot_id = %(bot)s AND search_vector @@ {tsquery}{documents} LIMIT %(candidates)s)
"""

# `= ANY(array)`: an index condition, so PostgreSQL ANDs the GIN bitmap of the query with
# the bitmap of the allowed documents' chunks (from the (document, position) index), and it
# plans with the real number of documents. The filter as a subquery, `IN (SELECT ...)`,
# let the planner loop over the documents instead, running the GIN scan once per
# document: 8x slower with 86 documents (bench/search_bench.py).
_RESTRICTION = " AND document_id = ANY(%(documents)s::uuid[])"

_SEARCH = """
WITH candidates AS ({candidates}),
ranked AS (
    SELECT id, max(ts_rank_cd(search_vector, {loose}, 32) + (search_vector @@ {strict})::int) AS score
    FROM candidates
    GROUP BY id
    ORDER BY score DESC, id
    LIMIT %(k)s
)
SELECT chunk.id, chunk.document_id, document.original_name, chunk.position, chunk.text,
       chunk.page_numbers, ranked.score
FROM ranked
JOIN bots_chunk AS chunk ON chunk.id = ranked.id
JOIN bots_document AS document ON document.id = chunk.document_id
ORDER BY ranked.score DESC, chunk.id
"""


def configuration_for(language: str) -> str:
    return CONFIGURATIONS.get(language, FALLBACK_CONFIGURATION)


def index_chunks(*, document_id: Any, language: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE bots_chunk SET search_vector = to_tsvector(%s::regconfig, text) WHERE document_id = %s",
            [configuration_for(language), document_id],
        )


def search_chunks(
    *,
    bot_id: Any,
    language: str,
    query: ParsedQuery,
    k: int,
    document_ids: list[Any] | None = None,
    loose: bool = True,
) -> list[tuple]:
    """The best `k` chunks for the query, as rows; `document_ids`: only those documents'."""
    either_word = loose and query.natural and len(query.words) > 1
    restriction = "" if document_ids is None else _RESTRICTION
    strict = _EVERY_CONFIGURATION if query.natural else _ONE_CONFIGURATION
    candidates = _CANDIDATES.format(tsquery=strict, documents=restriction)
    if either_word:
        candidates += " UNION ALL " + _CANDIDATES.format(tsquery=_loose(strict), documents=restriction)
    sql = _SEARCH.format(
        candidates=candidates, strict=strict, loose=_loose(strict) if either_word else strict
    )
    params = {
        "config": configuration_for(language),
        "query": query.text,
        "bot": bot_id,
        "candidates": CANDIDATES,
        "k": k,
        "documents": document_ids,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # Django reads jsonb as text and decodes it itself; so do we.
        return [
            (*row[:5], json.loads(row[5]) if isinstance(row[5], str) else row[5], row[6]) for row in cursor
        ]

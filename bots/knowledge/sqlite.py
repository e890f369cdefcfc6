"""SQLite knowledge search: an FTS5 table (porter stemming, diacritics removed) ranked
with `bm25()`.

Each FTS row carries its bot's id as a token in the `bot` column, so a match is filtered
by bot inside the index. FTS5 has no stop words: the query parser drops them. Like the
PostgreSQL backend, it returns at most `CANDIDATES` matches, the best-ranked ones (FTS5
ranks inside the index, so this costs no sort in Python), and for a natural-language
question it puts the chunks that contain every word first.

A document restriction (a metadata filter, resolved to document ids) is a condition of
the FTS query itself (`rowid IN` the restricted documents' chunks), applied before the
`CANDIDATES` limit.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import connection

from bots.knowledge.query import ParsedQuery, Term

CANDIDATES = 300

_SEARCH = """
SELECT chunk.id, chunk.document_id, document.original_name, chunk.position, chunk.text,
       chunk.page_numbers, matches.score
FROM (
    SELECT rowid AS id, -bm25(bots_chunk_fts, 1.0, 0.0) AS score
    FROM bots_chunk_fts WHERE bots_chunk_fts MATCH %s{documents}
    ORDER BY bm25(bots_chunk_fts, 1.0, 0.0) LIMIT %s
) AS matches
JOIN bots_chunk AS chunk ON chunk.id = matches.id
JOIN bots_document AS document ON document.id = chunk.document_id
ORDER BY matches.score DESC, chunk.id
LIMIT %s
"""


def _bot_token(bot_id: Any) -> str:
    return "bot" + uuid.UUID(str(bot_id)).hex


def index_chunks(*, document_id: Any, language: str) -> None:
    with connection.cursor() as cursor:
        # bot_id is stored as 32 hex digits, the same token `_bot_token` makes.
        cursor.execute(
            "INSERT INTO bots_chunk_fts (rowid, text, bot) "
            "SELECT id, text, 'bot' || bot_id FROM bots_chunk WHERE document_id = %s",
            [uuid.UUID(str(document_id)).hex],
        )


def _phrase(term: Term) -> str:
    return '"' + " ".join(term.words) + '"'


def _group(terms: list[Term]) -> str:
    positive = " AND ".join(_phrase(term) for term in terms if not term.excluded)
    excluded = "".join(f" NOT {_phrase(term)}" for term in terms if term.excluded)
    return f"({positive}){excluded}"


def _match(bot_id: Any, expression: str) -> str:
    return f'bot : "{_bot_token(bot_id)}" AND ({expression})'


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
    strict = " OR ".join(f"({_group(group)})" for group in query.groups)
    rows = _run(_match(bot_id, strict), k, document_ids)
    words = query.words
    if loose and query.natural and len(words) > 1 and len(rows) < k:
        either = " OR ".join(f'"{word}"' for word in words)
        found = {row[0] for row in rows}
        rows += [
            row for row in _run(_match(bot_id, either), k + len(found), document_ids) if row[0] not in found
        ][: k - len(rows)]
    return rows


def _run(match: str, k: int, document_ids: list[Any] | None = None) -> list[tuple]:
    restriction, params = "", []
    if document_ids is not None:
        # `+rowid`, not `rowid`: a rowid constraint would go to FTS5, which then runs the
        # MATCH once per allowed rowid (27x slower in bench/search_bench.py); as an
        # expression it filters the matches, in the same query, before the LIMIT. The ids
        # travel as one JSON array (Django stores a UUID as 32 hex digits), so that any
        # number of documents is one parameter.
        restriction = (
            " AND +rowid IN (SELECT id FROM bots_chunk"
            " WHERE document_id IN (SELECT value FROM json_each(%s)))"
        )
        params = [json.dumps([uuid.UUID(str(document_id)).hex for document_id in document_ids])]
    with connection.cursor() as cursor:
        cursor.execute(_SEARCH.format(documents=restriction), [match, *params, CANDIDATES, k])
        return [
            (chunk_id, uuid.UUID(document_id), name, position, text, json.loads(pages or "[]"), score)
            for chunk_id, document_id, name, position, text, pages, score in cursor.fetchall()
        ]

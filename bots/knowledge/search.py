"""Knowledge search: the one function the chat engine and the search API call.

`search(bot, query, k)` returns the bot's best `k` chunks for a query. The backend is
chosen by the database: PostgreSQL full-text search (`bots.knowledge.postgres`) or SQLite
FTS5 (`bots.knowledge.sqlite`). `index_document_chunks` writes the index side of freshly
written chunks and must run in the transaction that wrote them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from bots.knowledge.query import MAX_QUERY_CHARS, ParsedQuery, fold, parse_query
from bytchat.errors import InvalidInput

MAX_K = 50
SNIPPET_CHARS = 240


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
    metadata: dict = field(default_factory=dict, compare=False)


def _backend() -> ModuleType:
    if connection.vendor == "postgresql":
        from bots.knowledge import postgres

        return postgres
    if connection.vendor == "sqlite":
        from bots.knowledge import sqlite

        return sqlite
    raise NotImplementedError(f"No knowledge search backend for {connection.vendor}.")


def documents_sql(documents: QuerySet | None) -> tuple[str, list[Any]] | None:
    """The SQL and parameters of `SELECT id` over a Document queryset, for a retriever to
    put inside its candidate query (`document_id IN (...)`)."""
    if documents is None:
        return None
    sql, params = documents.order_by().values("pk").query.sql_with_params()
    return sql, list(params)


def search(bot, query: str, k: int = 5, *, documents: QuerySet | None = None) -> list[SearchHit]:
    """The bot's `k` best chunks for `query`, best first. A query with nothing to search
    for (only stop words or punctuation) finds nothing; it is not an error.

    `documents` (a Document queryset, e.g. from `bots.knowledge.filters.filter_documents`)
    restricts the search to those documents inside the candidate query, before ranking:
    the top k all come from them. None: every document of the bot."""
    if not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidInput(
            f"k must be between 1 and {MAX_K}.", fields={"k": [f"Must be between 1 and {MAX_K}."]}
        )
    parsed = parse_query(query[:MAX_QUERY_CHARS], language=bot.language)
    if parsed.is_empty:
        return []
    rows = _backend().search_chunks(
        bot_id=bot.pk, language=bot.language, query=parsed, k=k, documents=documents_sql(documents)
    )
    metadata = _metadata({row[1] for row in rows})
    return [
        SearchHit(
            chunk_id=chunk_id,
            document_id=document_id,
            document_name=document_name,
            position=position,
            text=text,
            page_numbers=page_numbers,
            score=float(score),
            snippet=make_snippet(text, parsed),
            metadata=metadata.get(str(document_id), {}),
        )
        for chunk_id, document_id, document_name, position, text, page_numbers, score in rows
    ]


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

"""Exact vector search in numpy, the same on PostgreSQL and SQLite.

A bot's chunk vectors (float32 bytes in `Chunk.embedding`) load once into one matrix per
process and stay in a bounded LRU cache keyed by bot, embedder and the bot's index
version (its documents' count and latest change), so an indexed, re-embedded or deleted
document invalidates it. A query is one matrix-vector product: exact cosine similarity
over every chunk of the bot, no approximation. Only documents embedded by the current
embedder are loaded; the others are searched by keywords.

A chunk's vector is the normalised mean of its sentences' vectors, each sentence embedded
once (`embed_chunks`); the sentence vectors are kept beside it, and the best candidates
are ranked again by their best sentence and their best pair of neighbouring sentences as
well (`rerank`): a question usually asks what one sentence says, or a sentence with the
one before or after it (a heading and its first line, a rule and its condition).
multilingual-e5-small finds the answering chunk first for 0.78 of the questions of
bench/retrieval_bench.py by whole-chunk vectors, 0.88 by the best sentence too, 0.92 this
way.

A large deployment would swap this module for pgvector (an HNSW index on a `vector`
column, `ORDER BY embedding <=> %s LIMIT k`): `bot_vectors` is the seam. Its callers only
ask the bot's vectors whether they hold any rows (`has_rows`, an EXISTS there) and for
their best (chunk id, similarity) pairs (`top_k`).
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, Max

from bots.knowledge.chunking import split_sentences
from bots.knowledge.embeddings import normalize
from bots.models import Chunk, Document

# A candidate's semantic score: the mean, over these sizes, of the similarity of its best
# window of that many neighbouring sentences (a window's vector is the normalised sum of
# its sentences'); 0 is the whole chunk, its own vector. Each size alone ranks the
# answering chunk of bench/retrieval_bench.py first less often than together: a single
# sentence misses what its neighbour says, the chunk dilutes it among its subjects.
WINDOW_SIZES = (1, 2, 0)
# At most this many sentence vectors a chunk: a chunk of many tiny "sentences" (a hostile
# "a1. a2. a3." or a table) has its consecutive sentences joined into this many pieces,
# which bounds what one document costs to embed and store.
MAX_SENTENCES_PER_CHUNK = 12
# A matrix of at least this many rows is multiplied in `VECTOR_SEARCH_THREADS` blocks at
# once (numpy releases the GIL): the product reads the whole matrix (150 MB at 100k
# chunks) and one core does not draw all the memory bandwidth; 11 ms at 100k chunks in
# one thread, 6.5 in two.
PARALLEL_ROWS = 20_000


@dataclass(frozen=True)
class BotVectors:
    chunk_ids: np.ndarray  # int64, one per row
    document_codes: np.ndarray  # int32 index into `document_ids`
    document_ids: list[Any]
    matrix: np.ndarray  # float32, (rows, dimensions), L2-normalised

    @property
    def nbytes(self) -> int:
        return self.matrix.nbytes + self.chunk_ids.nbytes + self.document_codes.nbytes


_CACHE: OrderedDict[tuple, BotVectors] = OrderedDict()
_LOCK = threading.Lock()
# A lock per bot version being loaded (`bot_vectors`).
_LOADING: dict[tuple, threading.Lock] = {}
_POOLS: dict[int, ThreadPoolExecutor] = {}


def _version(bot_id: Any, embedder_key: str) -> tuple:
    documents = Document.objects.filter(bot_id=bot_id)
    figures = documents.aggregate(count=Count("id"), changed=Max("updated_at"))
    return (figures["count"], figures["changed"])


def _load(bot_id: Any, embedder_key: str, dimensions: int) -> BotVectors:
    document_ids = list(
        Document.objects.filter(bot_id=bot_id, embedding_model=embedder_key).values_list("id", flat=True)
    )
    codes = {document_id: code for code, document_id in enumerate(document_ids)}
    rows = (
        Chunk.objects.filter(document_id__in=document_ids, embedding__isnull=False)
        .order_by("id")
        .values_list("id", "document_id", "embedding")
        .iterator(chunk_size=5000)
    )
    chunk_ids: list[int] = []
    document_codes: list[int] = []
    blobs: list[bytes] = []
    for chunk_id, document_id, embedding in rows:
        if len(embedding) != dimensions * 4:
            continue  # written by another model's dimensions; never compared
        chunk_ids.append(chunk_id)
        document_codes.append(codes[document_id])
        blobs.append(bytes(embedding))
    matrix = (
        np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dimensions)
        if blobs
        else np.zeros((0, dimensions), dtype=np.float32)
    )
    return BotVectors(
        chunk_ids=np.array(chunk_ids, dtype=np.int64),
        document_codes=np.array(document_codes, dtype=np.int32),
        document_ids=document_ids,
        matrix=matrix,
    )


def bot_vectors(bot_id: Any, embedder_key: str, dimensions: int) -> BotVectors:
    key = (str(bot_id), embedder_key, dimensions, _version(bot_id, embedder_key))
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
            return cached
        loading = _LOADING.setdefault(key, threading.Lock())
    # One thread loads a bot's vectors; the searches that arrive meanwhile wait for it.
    # Each loading them too took a copy of the matrix apiece (150 MB at 100k chunks) and
    # a database connection for seconds: 20 questions to a cold 100k-chunk bot emptied
    # the pool, and answers failed waiting for a connection (bench/chat_bench.py).
    with loading:
        with _LOCK:
            cached = _CACHE.get(key)
        if cached is not None:
            return cached
        try:
            loaded = _load(bot_id, embedder_key, dimensions)
        except BaseException:
            with _LOCK:
                _LOADING.pop(key, None)
            raise
        with _LOCK:
            _LOADING.pop(key, None)
            # Older versions of this bot's vectors will not be asked for again.
            for stale in [old for old in _CACHE if old[0] == key[0]]:
                del _CACHE[stale]
            _CACHE[key] = loaded
            limit = settings.VECTOR_CACHE_MAX_CHUNKS
            while len(_CACHE) > 1 and sum(len(item.chunk_ids) for item in _CACHE.values()) > limit:
                _CACHE.popitem(last=False)
    return loaded


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def cache_bytes() -> int:
    with _LOCK:
        return sum(item.nbytes for item in _CACHE.values())


def has_rows(vectors: BotVectors, document_ids: list[Any] | set[Any] | None = None) -> bool:
    """Whether any chunk (of `document_ids`, when given) has a vector to compare."""
    if document_ids is None or not len(vectors.chunk_ids):
        return bool(len(vectors.chunk_ids))
    wanted = set(document_ids)
    allowed = [code for code, document_id in enumerate(vectors.document_ids) if document_id in wanted]
    return bool(np.isin(vectors.document_codes, np.array(allowed, dtype=np.int32)).any())


def top_k(
    vectors: BotVectors,
    query: np.ndarray,
    *,
    k: int,
    document_ids: set[Any] | None = None,
    min_similarity: float | None = None,
) -> list[tuple[int, float]]:
    """The `k` most similar chunks, best first, as (chunk id, cosine similarity). Rows of
    documents outside `document_ids` are masked before ranking."""
    if not len(vectors.chunk_ids):
        return []
    similarities = similarities_of(vectors.matrix, np.asarray(query, dtype=np.float32))
    eligible = np.ones(len(similarities), dtype=bool)
    if document_ids is not None:
        allowed = [
            code for code, document_id in enumerate(vectors.document_ids) if document_id in document_ids
        ]
        eligible &= np.isin(vectors.document_codes, np.array(allowed, dtype=np.int32))
    if min_similarity is not None:
        eligible &= similarities >= min_similarity
    candidates = np.flatnonzero(eligible)
    if not len(candidates):
        return []
    if len(candidates) > k:
        best = candidates[np.argpartition(-similarities[candidates], k - 1)[:k]]
    else:
        best = candidates
    # Ties break by chunk id, as the keyword backends do.
    order = np.lexsort((vectors.chunk_ids[best], -similarities[best]))
    return [(int(vectors.chunk_ids[best[i]]), float(similarities[best[i]])) for i in order]


def similarities_of(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """`matrix @ query`, in row blocks side by side when the matrix is large."""
    blocks = settings.VECTOR_SEARCH_THREADS
    if blocks <= 1 or len(matrix) < PARALLEL_ROWS:
        return matrix @ query
    result = np.empty(len(matrix), dtype=np.result_type(matrix, query))
    bounds = np.linspace(0, len(matrix), blocks + 1, dtype=np.int64)
    pending = [
        _pool(blocks - 1).submit(np.matmul, matrix[start:end], query, out=result[start:end])
        for start, end in itertools.pairwise(bounds[1:])
    ]
    np.matmul(matrix[: bounds[1]], query, out=result[: bounds[1]])  # the first block here
    for future in pending:
        future.result()
    return result


def _pool(workers: int) -> ThreadPoolExecutor:
    with _LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="vector-search")
        return pool


def embed_chunks(embed_passages, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(chunk vector, sentence vectors) for each text, with `embed_passages` called once
    for the distinct sentences of all of them (overlapping chunks share sentences)."""
    sentences = [_bounded(split_sentences(text) or [text]) for text in texts]
    distinct = list(dict.fromkeys(sentence for group in sentences for sentence in group))
    vectors = dict(zip(distinct, embed_passages(distinct), strict=True))
    result = []
    for group in sentences:
        rows = np.array([vectors[sentence] for sentence in group], dtype=np.float32)
        result.append((normalize(rows.mean(axis=0, keepdims=True))[0], rows))
    return result


def _bounded(sentences: list[str]) -> list[str]:
    if len(sentences) <= MAX_SENTENCES_PER_CHUNK:
        return sentences
    size = -(-len(sentences) // MAX_SENTENCES_PER_CHUNK)
    return [" ".join(sentences[start : start + size]) for start in range(0, len(sentences), size)]


def sentences_to_bytes(rows: np.ndarray) -> bytes:
    return np.asarray(rows, dtype=np.float16).tobytes()


def sentences_from_bytes(data: bytes, dimensions: int) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=np.float16).reshape(-1, dimensions).astype(np.float32)


def rerank(candidates: list[tuple[int, float]], query: np.ndarray) -> list[tuple[int, float]]:
    """The candidates (chunk id, chunk similarity) scored again with their best windows of
    sentences (`WINDOW_SIZES`), best first. A chunk stored without sentence vectors keeps
    its chunk similarity."""
    if not candidates:
        return []
    query = np.asarray(query, dtype=np.float32)
    stored = dict(
        Chunk.objects.filter(
            id__in=[chunk_id for chunk_id, _ in candidates], sentence_embeddings__isnull=False
        ).values_list("id", "sentence_embeddings")
    )
    scored = []
    for chunk_id, similarity in candidates:
        data = stored.get(chunk_id)
        if data and len(data) % (len(query) * 2) == 0:
            sentences = sentences_from_bytes(data, len(query))
            similarity = sum(
                best_window_similarity(sentences, query, size) if size else similarity
                for size in WINDOW_SIZES
            ) / len(WINDOW_SIZES)
        scored.append((chunk_id, similarity))
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored


def best_window_similarity(sentences: np.ndarray, query: np.ndarray, size: int) -> float:
    """The cosine similarity with `query` of the best run of `size` consecutive sentences
    (of all of them when there are fewer), a run's vector being the sum of its sentences'."""
    size = min(size, len(sentences))
    count = len(sentences) - size + 1
    windows = sentences[:count].copy()
    for offset in range(1, size):
        windows += sentences[offset : offset + count]
    norms = np.linalg.norm(windows, axis=1)
    norms[norms == 0] = 1.0
    return float(np.max(windows @ query / norms))

"""Knowledge search benchmark: indexing throughput and search latency.

    DEBUG=true .venv/bin/python bench/search_bench.py --chunks 100000 --database postgres
    DEBUG=true .venv/bin/python bench/search_bench.py --chunks 100000 --database sqlite

It generates a deterministic bilingual corpus (Spanish and English documents over a
Zipf-distributed vocabulary, so a few words are in most chunks and most words are rare),
indexes it into one bot through the real services (`document_upload` then
`document_index`: extraction, chunking, bulk insert and the search index), then times
`bots.knowledge.search.search()` over a fixed mix of queries (rare words, very common
words, both, natural-language questions, quoted phrases).

Search modes: `keyword` (the full-text retriever alone: PostgreSQL FTS or SQLite FTS5) and
`hybrid` (full text fused with exact vector similarity, as the chat engine searches by
default). Embedding 100k chunks with the local model on two shared cores would take hours,
so after indexing, every chunk gets a random unit vector of the local model's 384
dimensions and four random sentence vectors (which the semantic side's re-ranking reads),
marked as that model's (as bench/retrieval_bench.py does); each hybrid search embeds its
query with the real local multilingual-e5-small, so its latency includes that.

Filtered runs: every document gets metadata (`program` one of ten values, `year` one of
ten years, round-robin), and the same queries run restricted by a metadata filter that
selects 10 % of the chunks (`{"program": "P3"}`, then `{"year": {"gte": 2021, "lt":
2022}}`), through `bots.knowledge.filters.filter_documents` and `search(..., documents=)`,
in both modes. For each query the unfiltered and the filtered searches run back to back,
so a change in the machine's load weighs on all of them alike. Target: the filtered p95
within 1.5x the unfiltered p95 of the same mode. Each timed query compiles the filter and
searches, as the chat engine retrieves; checking a filter a client sends (its keys
against the bot's, one indexed query, once per request) is timed apart.

PostgreSQL: a `bytchat_bench` database (--bench-database) is created from --postgres-url
(its maintenance database) and dropped afterwards. SQLite: a temporary file (--sqlite-file
with --reuse). `--reuse` keeps the database and, on the next run with the same corpus
parameters, skips building it (the indexing figures are those of the run that built it):
a rerun then takes about two minutes instead of five to fifteen. Results are printed
as a table and merged into bench/results/search.json under the database's name, with the
machine's load average.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "search.json"
BENCH_DATABASE = "bytchat_bench"
PROGRAMS = 10  # metadata values, round-robin over the documents: each selects 10 %
FILTERS = {
    "equality": {"program": "P3"},
    "range": {"year": {"gte": 2021, "lt": 2022}},
}
FILTER_TARGET_RATIO = 1.5
MODES = ("keyword", "hybrid")
OWNER_EMAIL = "bench@bytchat.local"
# Bump when the corpus a seed generates changes, so that --reuse rebuilds it.
CORPUS_VERSION = 3
# Sentence vectors a chunk, for the re-ranking of the semantic side (as bench/retrieval_bench.py).
SENTENCES_PER_CHUNK = 4
CORPUS_TABLE = "search_bench_corpus"
# As launched: the local embedder sets OMP_NUM_THREADS itself when it loads.
LAUNCH_OMP_NUM_THREADS = os.environ.get("OMP_NUM_THREADS")

_SPANISH = """
el la de que y en un una los las por con para del se no es su al lo como más pero sus le ya
o este sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde todo
nos durante todos uno les ni contra otros ese eso ante ellos e esto mí antes algunos qué unos
yo otro otras otra él tanto esa estos mucho quienes nada muchos cual poco ella estar estas
factura pago cliente pedido envío devolución garantía cuenta contraseña usuario documento
archivo página informe proyecto equipo reunión calendario tarea presupuesto contrato empresa
producto servicio precio descuento tarjeta transferencia banco préstamo interés plazo cuota
política privacidad seguridad acceso permiso administrador soporte incidencia solución error
configuración instalación actualización versión aplicación servidor base datos búsqueda
conversación mensaje respuesta pregunta asistente modelo entrenamiento conocimiento categoría
"""
_ENGLISH = """
the of and to in is you that it he was for on are as with his they at be this have from or
one had by word but not what all were we when your can said there use an each which she do
how their if will up other about out many then them these so some her would make like him
invoice payment customer order shipping refund warranty account password user document file
page report project team meeting calendar task budget contract company product service price
discount card transfer bank loan interest term instalment policy privacy security access
permission administrator support ticket solution error settings installation update version
application server database search conversation message answer question assistant model
training knowledge category workflow deadline approval schedule delivery receipt balance
"""
SPANISH_WORDS, ENGLISH_WORDS = _SPANISH.split(), _ENGLISH.split()

_SPANISH_SYLLABLES = (
    "ra re ri ro ru ma me mi mo na ne ni no ta te ti to ca co cu la le li lo sa se si so ción dad"
)
_ENGLISH_SYLLABLES = (
    "ber der ker ler mer ner per ter ing tion ment ness ful less ous ive al ic ist ism bra pro"
)
SYLLABLES = {"es": [*_SPANISH_SYLLABLES.split(), "fí", "lá", "mó"], "en": _ENGLISH_SYLLABLES.split()}


# --- Corpus ------------------------------------------------------------------------------
def vocabulary(language: str, size: int, rng: random.Random) -> list[str]:
    """Real words first (the frequent head), then generated ones (the rare tail)."""
    words = list(dict.fromkeys(SPANISH_WORDS if language == "es" else ENGLISH_WORDS))
    seen = set(words)
    syllables = SYLLABLES[language]
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def zipf_weights(size: int, exponent: float = 1.07) -> list[float]:
    return list(itertools.accumulate(1 / (rank**exponent) for rank in range(1, size + 1)))


def document_text(words: list[str], weights: list[float], rng: random.Random, target_chars: int) -> str:
    """Paragraphs of sentences of Zipf-drawn words, about `target_chars` long."""
    draws = rng.choices(words, cum_weights=weights, k=target_chars // 6 + 50)
    paragraphs, sentences, position, size = [], [], 0, 0
    while size < target_chars and position < len(draws):
        length = rng.randint(8, 20)
        sentence = " ".join(draws[position : position + length])
        position += length
        sentences.append(sentence[:1].upper() + sentence[1:] + ".")
        size += len(sentence) + 2
        if len(sentences) >= rng.randint(3, 6):
            paragraphs.append(" ".join(sentences))
            sentences = []
    if sentences:
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def make_queries(vocabularies: dict[str, list[str]], count: int, rng: random.Random) -> list[tuple[str, str]]:
    """(kind, query) pairs: rare words, common and very common words, both, questions and
    quoted phrases."""
    kinds = ["rare", "common", "very common", "common+common", "common+rare", "question", "phrase"]
    queries = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        words = vocabularies["es" if index % 2 else "en"]
        content = words[60:]  # past the stop-word-like head of real words
        common = content[:40]
        rare = words[3000:]
        if kind == "rare":
            query = rng.choice(rare)
        elif kind == "common":
            query = rng.choice(common)
        elif kind == "very common":
            # English function words: not stop words for the bot's Spanish configuration, so
            # each is in about half of all chunks.
            query = " ".join(rng.sample(vocabularies["en"][:30], rng.randint(1, 2)))
        elif kind == "common+common":
            query = " ".join(rng.sample(common, 2))
        elif kind == "common+rare":
            query = f"{rng.choice(common)} {rng.choice(rare)}"
        elif kind == "question":
            head = words[:60]
            picked = [rng.choice(head), rng.choice(common), rng.choice(head), rng.choice(content[:2000])]
            query = ("¿" if words is vocabularies["es"] else "") + " ".join(picked) + "?"
        else:
            query = '"' + " ".join(rng.sample(common, 2)) + '"'
        queries.append((kind, query))
    return queries


# --- Database ----------------------------------------------------------------------------
def corpus_parameters(args) -> dict:
    """What the generated corpus depends on: a kept database built with others is rebuilt."""
    return {
        "version": CORPUS_VERSION,
        "chunks": args.chunks,
        "seed": args.seed,
        "vocabulary": args.vocabulary,
        "chars_per_document": args.chars_per_document,
    }


def _read_corpus(row: tuple | None, wanted: dict) -> dict | None:
    if row is None:
        return None
    parameters, figures = json.loads(row[0]), json.loads(row[1])
    return {"parameters": parameters, "figures": figures} if parameters == wanted else None


def prepare_database(args) -> tuple[str, Callable[[], None], dict | None]:
    """The bench database's URL, a function that removes it (a no-op with --keep or
    --reuse) and, with --reuse, the corpus it already holds if built with these parameters
    ({"parameters", "figures"}); else None, and the database is new and empty."""
    wanted = corpus_parameters(args)
    keep = args.keep or args.reuse
    if args.database == "sqlite":
        if not keep:
            folder = Path(tempfile.mkdtemp(prefix="bytchat-bench-"))
            url = f"sqlite:///{folder / 'bench.sqlite3'}"
            return url, lambda: shutil.rmtree(folder, ignore_errors=True), None
        import sqlite3

        path = args.sqlite_file.resolve()
        stored = None
        if args.reuse and path.exists():
            # No such table: nothing to reuse.
            with contextlib.closing(sqlite3.connect(path)) as connection, contextlib.suppress(sqlite3.Error):
                row = connection.execute(f"SELECT parameters, figures FROM {CORPUS_TABLE}").fetchone()
                stored = _read_corpus(row, wanted)
        if stored is None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}", lambda: None, stored
    import psycopg

    def admin(sql: str) -> None:
        with psycopg.connect(args.postgres_url, autocommit=True) as connection:
            connection.execute(sql)

    name = args.bench_database
    if not name.replace("_", "").isalnum():
        raise SystemExit("--bench-database: letters, digits and _ only.")
    url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
    stored = None
    if args.reuse:
        # No such database or table: build it.
        with contextlib.suppress(psycopg.Error), psycopg.connect(url) as connection:
            row = connection.execute(f"SELECT parameters, figures FROM {CORPUS_TABLE}").fetchone()
            stored = _read_corpus(row, wanted)
    if stored is None:
        admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin(f"CREATE DATABASE {name}")

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    return url, (lambda: None) if keep else drop, stored


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latency(values: list[float]) -> dict:
    return {
        "p50": round(percentile(values, 0.50), 2),
        "p95": round(percentile(values, 0.95), 2),
        "p99": round(percentile(values, 0.99), 2),
        "max": round(max(values), 2),
        "mean": round(statistics.fmean(values), 2),
    }


# --- Corpus build ------------------------------------------------------------------------
def build_corpus(args, vocabularies: dict[str, list[str]], rng: random.Random) -> dict:
    """Index the corpus into a new bot through the real services, give its chunks synthetic
    vectors, and record what was built (read back by --reuse). Returns the figures."""
    from django.core.files.base import ContentFile
    from django.db import connection

    from accounts.models import User
    from bots import services
    from bots.models import Bot, Chunk

    owner = User.objects.create_user(email=OWNER_EMAIL, password=None)
    bot = Bot.objects.create(owner=owner, name_es="Bench", language="es")
    weights = {language: zipf_weights(len(words)) for language, words in vocabularies.items()}

    print(f"Indexing about {args.chunks:,} chunks into one bot on {connection.vendor}...", flush=True)
    chunks = pages = documents = 0
    index_seconds = generate_seconds = 0.0
    while chunks < args.chunks:
        language = "es" if documents % 2 == 0 else "en"
        started = time.perf_counter()
        remaining = args.chunks - chunks
        target = min(args.chars_per_document, max(2000, remaining * 800))
        text = document_text(vocabularies[language], weights[language], rng, target)
        generate_seconds += time.perf_counter() - started
        started = time.perf_counter()
        document = services.document_upload(
            user=owner,
            bot=bot,
            file=ContentFile(text.encode(), name=f"{language}-{documents:05d}.txt"),
            enqueue=False,
            metadata={"program": f"P{documents % PROGRAMS}", "year": 2018 + documents % PROGRAMS},
        )
        outcome = services.document_index(document_id=document.pk)
        index_seconds += time.perf_counter() - started
        assert outcome is not None and outcome.status == "ready", outcome
        chunks += outcome.chunks
        pages += outcome.pages
        documents += 1
        if documents % 50 == 0:
            print(f"  {chunks:,} chunks, {chunks / index_seconds:,.0f} chunks/s", flush=True)
    assert Chunk.objects.filter(bot=bot).count() == chunks
    vectors_seconds = write_synthetic_vectors(bot, args.seed)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # what autovacuum does after a bulk load
            # The vectors' UPDATE left a dead version of every chunk in the table and its
            # indexes: searched before a VACUUM, every bitmap scan reads twice the entries.
            cursor.execute("VACUUM ANALYZE bots_chunk")
            cursor.execute("ANALYZE bots_document")
            cursor.execute("ANALYZE bots_documentmetadatavalue")
    figures = {
        "chunks": chunks,
        "documents": documents,
        "index_seconds": round(index_seconds, 2),
        "generate_seconds": round(generate_seconds, 2),
        "chunks_per_second": round(chunks / index_seconds, 1),
        "vectors_seconds": round(vectors_seconds, 2),
        "indexed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "index_load_average": [round(value, 1) for value in os.getloadavg()],
    }
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {CORPUS_TABLE} (parameters TEXT NOT NULL, figures TEXT NOT NULL)")
        cursor.execute(
            f"INSERT INTO {CORPUS_TABLE} (parameters, figures) VALUES (%s, %s)",
            [json.dumps(corpus_parameters(args)), json.dumps(figures)],
        )
    return figures


def write_synthetic_vectors(bot, seed: int) -> float:
    """A random unit vector of the local model's dimensions for every chunk, and
    `SENTENCES_PER_CHUNK` sentence vectors, the documents marked as embedded by it: what
    search by meaning costs, without hours of embedding. Returns the seconds it took."""
    import numpy as np
    from django.db import connection, transaction

    from bots.knowledge.embeddings import LocalEmbedder
    from bots.knowledge.vectors import sentences_to_bytes
    from bots.models import Chunk, Document

    embedder = LocalEmbedder()  # its key and dimensions; the model itself is not loaded
    generator = np.random.default_rng(seed)
    started = time.perf_counter()
    chunk_ids = list(Chunk.objects.filter(bot=bot).order_by("id").values_list("id", flat=True))
    print(f"Writing {len(chunk_ids):,} synthetic vectors...", flush=True)
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(chunk_ids), 5000):
            batch = chunk_ids[start : start + 5000]
            matrix = generator.standard_normal((len(batch), embedder.dimensions)).astype(np.float32)
            matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
            shape = (len(batch), SENTENCES_PER_CHUNK, embedder.dimensions)
            sentences = generator.standard_normal(shape).astype(np.float32)
            sentences /= np.linalg.norm(sentences, axis=2, keepdims=True)
            cursor.executemany(
                "UPDATE bots_chunk SET embedding = %s, sentence_embeddings = %s WHERE id = %s",
                [
                    (matrix[row].tobytes(), sentences_to_bytes(sentences[row]), chunk_id)
                    for row, chunk_id in enumerate(batch)
                ],
            )
        Document.objects.filter(bot=bot).update(
            embedding_model=embedder.key, embedding_dimensions=embedder.dimensions
        )
    return time.perf_counter() - started


# --- Run ---------------------------------------------------------------------------------
def run(args, stored: dict | None) -> dict:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from bots.models import Bot

    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    vocabularies = {language: vocabulary(language, args.vocabulary, rng) for language in ("es", "en")}
    if stored is None:
        figures = build_corpus(args, vocabularies, rng)
    else:
        figures = stored["figures"]
        print(f"Reusing the {figures['chunks']:,} chunks indexed at {figures['indexed_at']}.", flush=True)
    bot = Bot.objects.get(owner__email=OWNER_EMAIL)
    # Indexing ran without embeddings (the vectors are synthetic); searching uses them.
    settings.EMBEDDINGS_PROVIDER = "local"
    # Their own generator, so that a reused corpus is searched with the same queries.
    queries = make_queries(vocabularies, args.queries, random.Random(args.seed + 1))
    load_before = [round(value, 1) for value in os.getloadavg()]
    measured = measure(bot, queries, args.k)
    load_after = [round(value, 1) for value in os.getloadavg()]
    return {
        "database": connection.vendor,
        "database_version": _database_version(connection),
        **figures,
        "corpus_reused": stored is not None,
        "queries": len(queries),
        "k": args.k,
        "candidates": getattr(_backend_module(connection), "CANDIDATES", None),
        **measured["keyword"],
        "target_p95_ms": 20,
        "filtered_target_ratio": FILTER_TARGET_RATIO,
        "hybrid": measured["hybrid"],
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "niceness": os.nice(0),
            "embedder_threads": settings.EMBEDDINGS_LOCAL_THREADS,
            "omp_num_threads_at_launch": LAUNCH_OMP_NUM_THREADS,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "command": _command(),
    }


def _command() -> str:
    """This run's command line, with the niceness and embedder threads it ran with."""
    threads = f"OMP_NUM_THREADS={LAUNCH_OMP_NUM_THREADS} " if LAUNCH_OMP_NUM_THREADS else ""
    nice = f"nice -n {os.nice(0)} " if os.nice(0) > 0 else ""
    return f"{threads}DEBUG=true {nice}.venv/bin/python bench/search_bench.py " + " ".join(sys.argv[1:])


def measure(bot, queries: list[tuple[str, str]], k: int) -> dict:
    """Time every query unfiltered and under each filter, in each mode, back to back; every
    filtered hit is checked to match its filter. The filter is compiled for every query,
    as a request does."""
    from bots.knowledge import vectors
    from bots.knowledge.embeddings import get_embedder
    from bots.knowledge.filters import filter_documents, filter_validate
    from bots.knowledge.search import search
    from bots.models import Chunk

    variants = {None: None, **FILTERS}
    allowed = {
        name: set(filter_documents(spec, bot=bot).values_list("pk", flat=True))
        for name, spec in FILTERS.items()
    }
    chunks = Chunk.objects.filter(bot=bot).count()
    shares = {
        name: Chunk.objects.filter(document_id__in=ids).count() / chunks for name, ids in allowed.items()
    }

    def once(query: str, mode: str, name: str | None) -> list:
        spec = variants[name]
        documents = None if spec is None else filter_documents(spec, bot=bot, check_keys=False)
        return search(bot, query, k, documents=documents, mode=mode)

    embedder = get_embedder()
    embedder.embed_queries(["warm the model"])  # loads it, once per process
    vectors.clear_cache()
    started = time.perf_counter()
    once(queries[0][1], "hybrid", None)
    cache_load_ms = (time.perf_counter() - started) * 1000
    for _, query in queries[:20]:  # warm the caches
        for mode in MODES:
            for name in variants:
                once(query, mode, name)

    timings = {(mode, name): [] for mode in MODES for name in variants}
    by_kind = {mode: {} for mode in MODES}
    with_hits = dict.fromkeys(timings, 0)
    embed_ms = []
    for kind, query in queries:
        started = time.perf_counter()
        embedder.embed_queries([query])
        embed_ms.append((time.perf_counter() - started) * 1000)
        for mode in MODES:
            for name in variants:
                started = time.perf_counter()
                hits = once(query, mode, name)
                elapsed = (time.perf_counter() - started) * 1000
                timings[mode, name].append(elapsed)
                with_hits[mode, name] += bool(hits)
                if name is None:
                    by_kind[mode].setdefault(kind, []).append(elapsed)
                else:
                    assert all(hit.document_id in allowed[name] for hit in hits), "a hit outside the filter"

    validate_ms = {}
    for name, spec in FILTERS.items():
        runs = []
        for _ in range(50):
            started = time.perf_counter()
            filter_validate(spec, bot=bot)
            runs.append((time.perf_counter() - started) * 1000)
        validate_ms[name] = round(percentile(runs, 0.50), 2)

    result = {}
    for mode in MODES:
        unfiltered = timings[mode, None]
        result[mode] = {
            "search_ms": latency(unfiltered),
            "search_p95_ms_by_kind": {
                kind: round(percentile(values, 0.95), 2) for kind, values in by_kind[mode].items()
            },
            "queries_with_hits": with_hits[mode, None],
            "filtered": {
                name: _filtered_figures(
                    spec,
                    timings[mode, name],
                    unfiltered,
                    share=shares[name],
                    with_hits=with_hits[mode, name],
                    validate_ms=validate_ms[name],
                )
                for name, spec in FILTERS.items()
            },
        }
    result["hybrid"].update(
        {
            "vectors": f"synthetic random unit vectors (384 dimensions, float32; {SENTENCES_PER_CHUNK} "
            "sentence vectors a chunk, float16) marked as the local model's; each search embeds its "
            "query with the real local multilingual-e5-small",
            "query_embedding_ms": {
                "p50": round(percentile(embed_ms, 0.50), 2),
                "p95": round(percentile(embed_ms, 0.95), 2),
            },
            "vector_cache_load_ms": round(cache_load_ms),
        }
    )
    return result


def _filtered_figures(spec, timings, unfiltered, *, share, with_hits, validate_ms) -> dict:
    p95, base_p95 = percentile(timings, 0.95), percentile(unfiltered, 0.95)
    return {
        "filter": spec,
        "chunk_share": round(share, 4),
        "search_ms": latency(timings),
        "queries_with_hits": with_hits,
        "validate_ms_p50": validate_ms,
        "p95_ratio_to_unfiltered": round(p95 / base_p95, 2),
        "mean_ratio_to_unfiltered": round(statistics.fmean(timings) / statistics.fmean(unfiltered), 2),
        "target_met": p95 <= FILTER_TARGET_RATIO * base_p95,
    }


def _database_version(connection) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        return cursor.fetchone()[0].split(" on ")[0]


def _backend_module(connection):
    from bots.knowledge import postgres, sqlite

    return postgres if connection.vendor == "postgresql" else sqlite


def print_table(result: dict) -> None:
    indexing = f"{result['chunks_per_second']:,.0f} chunks/s ({result['index_seconds']} s)"
    if result["corpus_reused"]:
        indexing += f", when built at {result['indexed_at']} (--reuse)"
    rows = [
        ("database", result["database_version"]),
        ("chunks indexed", f"{result['chunks']:,} in {result['documents']:,} documents"),
        ("indexing", indexing),
        ("queries", f"{result['queries']} (k={result['k']}) per mode and filter"),
    ]
    hybrid = result["hybrid"]
    for mode, figures in (("keyword", result), ("hybrid", hybrid)):
        latency = figures["search_ms"]
        target = f" (target ≤ {result['target_p95_ms']} ms)" if mode == "keyword" else ""
        rows += [
            (f"{mode} search p50 / p95", f"{latency['p50']} / {latency['p95']} ms{target}"),
            (f"{mode} search p99 / max", f"{latency['p99']} / {latency['max']} ms"),
            ("  queries with hits", str(figures["queries_with_hits"])),
        ]
        rows += [(f"  p95 {kind}", f"{value} ms") for kind, value in figures["search_p95_ms_by_kind"].items()]
        if mode == "hybrid":
            rows += [
                ("  query embedding p50 / p95", "{p50} / {p95} ms".format(**hybrid["query_embedding_ms"])),
                ("  vector cache load", f"{hybrid['vector_cache_load_ms']} ms"),
            ]
        for name, run in figures["filtered"].items():
            rows += [
                (
                    f"{mode} filtered ({name}) p50 / p95",
                    f"{run['search_ms']['p50']} / {run['search_ms']['p95']} ms, "
                    f"{run['chunk_share']:.0%} of chunks, {run['queries_with_hits']} queries with hits",
                ),
                (
                    "  p95 vs unfiltered",
                    f"{run['p95_ratio_to_unfiltered']}x (target ≤ {result['filtered_target_ratio']}x: "
                    f"{'met' if run['target_met'] else 'NOT met'})",
                ),
            ]
    rows += [
        (f"checking the {name} filter (once per request) p50", f"{run['validate_ms_p50']} ms")
        for name, run in result["filtered"].items()
    ]
    machine = result["machine"]
    rows.append(
        ("load average before / after", f"{machine['load_average_before']} / {machine['load_average_after']}")
    )
    width = max(len(label) for label, _ in rows)
    print()
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="A PostgreSQL maintenance database; the bench database is created next to it.",
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--vocabulary", type=int, default=30_000, help="Distinct words per language.")
    parser.add_argument("--chars-per-document", type=int, default=100_000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--bench-database", default=BENCH_DATABASE, help="The PostgreSQL database to create and drop."
    )
    parser.add_argument(
        "--sqlite-file",
        type=Path,
        default=Path(tempfile.gettempdir()) / "bytchat-search-bench.sqlite3",
        help="The SQLite database file with --keep or --reuse.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the bench database, to inspect it.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Keep the bench database, and search the corpus it holds if built with the same parameters.",
    )
    args = parser.parse_args()

    url, cleanup, stored = prepare_database(args)
    media = Path(tempfile.mkdtemp(prefix="bytchat-bench-media-"))
    os.environ.update({"DATABASE_URL": url, "MEDIA_ROOT": str(media)})
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bytchat.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Indexing without embeddings: `write_synthetic_vectors` gives the chunks their vectors.
    os.environ["EMBEDDINGS_PROVIDER"] = "none"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # DEBUG only supplies the development SECRET_KEY; no query log
    try:
        result = run(args, stored)
    finally:
        cleanup()
        shutil.rmtree(media, ignore_errors=True)
    print_table(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(args.output.read_text()) if args.output.exists() else {}
    saved[result["database"]] = result
    args.output.write_text(json.dumps(saved, indent=2, ensure_ascii=False) + "\n")
    print(
        f"\nWritten to {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}"
    )


if __name__ == "__main__":
    main()

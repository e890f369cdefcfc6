"""Knowledge search benchmark: indexing throughput and search latency.

    DEBUG=true .venv/bin/python bench/search_bench.py --chunks 100000 --database postgres
    DEBUG=true .venv/bin/python bench/search_bench.py --chunks 100000 --database sqlite

It generates a deterministic bilingual corpus (Spanish and English documents over a
Zipf-distributed vocabulary, so a few words are in most chunks and most words are rare),
indexes it into one bot through the real services (`document_upload` then
`document_index`: extraction, chunking, bulk insert and the search index), then times
`bots.knowledge.search.search()` over a fixed mix of queries (rare words, very common
words, both, natural-language questions, quoted phrases).

Filtered run: every document gets metadata (`program` one of ten values, `year` one of
ten years, round-robin), and the same queries run again restricted by a metadata filter
that selects 10 % of the chunks (`{"program": "P3"}`, then `{"year": {"gte": 2021, "lt":
2022}}`), through `bots.knowledge.filters.filter_documents` and `search(..., documents=)`.
Target: the filtered p95 within 1.5x the unfiltered p95 of the same run. Each timed query
compiles the filter and searches, as the chat engine retrieves; checking a filter a client
sends (its keys against the bot's, one indexed query, once per request) is timed apart.

PostgreSQL: a `bytchat_bench` database (--bench-database) is created from --postgres-url
(its maintenance database) and dropped afterwards. SQLite: a temporary file. Results are printed as a table
and merged into bench/results/search.json under the database's name.
"""

from __future__ import annotations

import argparse
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
def prepare_database(args) -> tuple[str, callable]:
    """The bench database's URL and a function that removes it."""
    if args.database == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="bytchat-bench-"))
        return f"sqlite:///{folder / 'bench.sqlite3'}", lambda: shutil.rmtree(folder, ignore_errors=True)
    import psycopg

    def admin(sql: str) -> None:
        with psycopg.connect(args.postgres_url, autocommit=True) as connection:
            connection.execute(sql)

    name = args.bench_database
    if not name.replace("_", "").isalnum():
        raise SystemExit("--bench-database: letters, digits and _ only.")
    admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin(f"CREATE DATABASE {name}")
    url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    return url, drop


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- Run ---------------------------------------------------------------------------------
def run(args) -> dict:
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from bots import services
    from bots.knowledge import search as knowledge_search
    from bots.knowledge.filters import filter_documents
    from bots.models import Bot, Chunk, Document

    call_command("migrate", verbosity=0)
    owner = User.objects.create_user(email="bench@bytchat.local", password=None)
    bot = Bot.objects.create(owner=owner, name_es="Bench", language="es")
    rng = random.Random(args.seed)
    vocabularies = {language: vocabulary(language, args.vocabulary, rng) for language in ("es", "en")}
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
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # what autovacuum does after a bulk load
            cursor.execute("ANALYZE bots_chunk")
            cursor.execute("ANALYZE bots_document")
            cursor.execute("ANALYZE bots_documentmetadatavalue")

    queries = make_queries(vocabularies, args.queries, rng)
    for _, query in queries[:20]:  # warm the caches
        knowledge_search.search(bot, query, args.k)
    timings: dict[str, list[float]] = {}
    hit_counts = []
    for kind, query in queries:
        started = time.perf_counter()
        hits = knowledge_search.search(bot, query, args.k)
        timings.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        hit_counts.append(len(hits))
    every = [value for values in timings.values() for value in values]
    filtered = {
        name: _filtered_run(
            bot, queries, args.k, spec, every, chunks, knowledge_search, filter_documents, Document
        )
        for name, spec in FILTERS.items()
    }
    return {
        "database": connection.vendor,
        "database_version": _database_version(connection),
        "chunks": chunks,
        "documents": documents,
        "index_seconds": round(index_seconds, 2),
        "generate_seconds": round(generate_seconds, 2),
        "chunks_per_second": round(chunks / index_seconds, 1),
        "queries": len(every),
        "k": args.k,
        "candidates": getattr(_backend_module(connection), "CANDIDATES", None),
        "search_ms": {
            "p50": round(percentile(every, 0.50), 2),
            "p95": round(percentile(every, 0.95), 2),
            "p99": round(percentile(every, 0.99), 2),
            "max": round(max(every), 2),
            "mean": round(statistics.fmean(every), 2),
        },
        "search_p95_ms_by_kind": {
            kind: round(percentile(values, 0.95), 2) for kind, values in timings.items()
        },
        "queries_with_hits": sum(1 for count in hit_counts if count),
        "target_p95_ms": 20,
        "filtered": filtered,
        "filtered_target_ratio": FILTER_TARGET_RATIO,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "command": "DEBUG=true .venv/bin/python bench/search_bench.py " + " ".join(sys.argv[1:]),
    }


def _filtered_run(
    bot, queries, k, spec, unfiltered, chunks, knowledge_search, filter_documents, Document
) -> dict:
    """The same queries restricted by a metadata filter; each hit is checked to match it.
    The filter is compiled for every query, as a request does."""
    from bots.knowledge.filters import filter_validate
    from bots.models import Chunk

    selected = Document.objects.filter(pk__in=filter_documents(spec, bot=bot)).values("pk")
    share = Chunk.objects.filter(document_id__in=selected).count() / chunks
    allowed = set(selected.values_list("pk", flat=True))
    for _, query in queries[:20]:  # warm the caches
        knowledge_search.search(bot, query, k, documents=filter_documents(spec, bot=bot, check_keys=False))
    validations = []
    for _ in range(50):
        started = time.perf_counter()
        filter_validate(spec, bot=bot)
        validations.append((time.perf_counter() - started) * 1000)
    timings, with_hits = [], 0
    for _, query in queries:
        started = time.perf_counter()
        hits = knowledge_search.search(
            bot, query, k, documents=filter_documents(spec, bot=bot, check_keys=False)
        )
        timings.append((time.perf_counter() - started) * 1000)
        assert all(hit.document_id in allowed for hit in hits), "a hit outside the filter"
        with_hits += bool(hits)
    p95, base_p95 = percentile(timings, 0.95), percentile(unfiltered, 0.95)
    return {
        "filter": spec,
        "chunk_share": round(share, 4),
        "search_ms": {
            "p50": round(percentile(timings, 0.50), 2),
            "p95": round(p95, 2),
            "max": round(max(timings), 2),
            "mean": round(statistics.fmean(timings), 2),
        },
        "queries_with_hits": with_hits,
        "validate_ms_p50": round(percentile(validations, 0.50), 2),
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
    latency = result["search_ms"]
    rows = [
        ("database", result["database_version"]),
        ("chunks indexed", f"{result['chunks']:,} in {result['documents']:,} documents"),
        ("indexing", f"{result['chunks_per_second']:,.0f} chunks/s ({result['index_seconds']} s)"),
        ("search p50", f"{latency['p50']} ms"),
        ("search p95", f"{latency['p95']} ms (target ≤ {result['target_p95_ms']} ms)"),
        ("search p99 / max", f"{latency['p99']} / {latency['max']} ms"),
        ("queries", f"{result['queries']} (k={result['k']}), {result['queries_with_hits']} with hits"),
    ]
    rows += [(f"  p95 {kind}", f"{value} ms") for kind, value in result["search_p95_ms_by_kind"].items()]
    for name, run in result["filtered"].items():
        rows += [
            (
                f"filtered ({name}) p50 / p95",
                f"{run['search_ms']['p50']} / {run['search_ms']['p95']} ms, "
                f"{run['chunk_share']:.0%} of chunks, {run['queries_with_hits']} queries with hits",
            ),
            ("  checking the filter (once per request) p50", f"{run['validate_ms_p50']} ms"),
            (
                "  p95 vs unfiltered",
                f"{run['p95_ratio_to_unfiltered']}x (target ≤ {result['filtered_target_ratio']}x: "
                f"{'met' if run['target_met'] else 'NOT met'})",
            ),
        ]
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
    parser.add_argument("--keep", action="store_true", help="Keep the bench database, to inspect it.")
    args = parser.parse_args()

    url, cleanup = prepare_database(args)
    media = Path(tempfile.mkdtemp(prefix="bytchat-bench-media-"))
    os.environ.update({"DATABASE_URL": url, "MEDIA_ROOT": str(media)})
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bytchat.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The keyword side alone (bench/retrieval_bench.py measures search by meaning).
    os.environ["EMBEDDINGS_PROVIDER"] = "none"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # DEBUG only supplies the development SECRET_KEY; no query log
    try:
        result = run(args)
    finally:
        if not args.keep:
            cleanup()
        shutil.rmtree(media, ignore_errors=True)
    print_table(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    stored = json.loads(args.output.read_text()) if args.output.exists() else {}
    stored[result["database"]] = result
    args.output.write_text(json.dumps(stored, indent=2, ensure_ascii=False) + "\n")
    print(
        f"\nWritten to {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}"
    )


if __name__ == "__main__":
    main()

"""Retrieval benchmark: quality of keyword, semantic and hybrid search on a bilingual
evaluation set, the offline answers built from it, and latency at 100k chunks.

    DEBUG=true .venv/bin/python bench/retrieval_bench.py --database sqlite
    DEBUG=true .venv/bin/python bench/retrieval_bench.py --database postgres

Quality: the 8 documents of bench/data/retrieval_documents.json (Spanish and English,
three pages each, on overlapping topics) are indexed into one bot through the real
services (`document_upload` then `document_index`: extraction, chunking, full-text index
and the local multilingual-e5-small embeddings). This times the indexing throughput on
real text, `document_index` as a worker runs it: the median of five rounds, each into a
bot of its own. Each of the 60 questions of bench/data/retrieval_questions.json names the
sentence that answers it; a hit counts when its chunk holds that sentence. The questions
are `direct` (they share words with the answer), `paraphrase` (same language, few shared
words) and `cross` (English question, Spanish document, or the other way round). The
`local` provider's answer counts when it quotes the answering sentence with the `[n]` of
a source that holds it.

Latency: a second bot gets --chunks synthetic chunks (Zipf text from search_bench, with a
full-text index) and, because embedding 100k chunks with the local model on two shared
cores would take hours, random unit vectors of the local model's 384 dimensions (and four
sentence vectors a chunk, for the re-ranking; the evaluation set averages 4.7), marked
as the local model's. Queries are the 60 evaluation questions; each search embeds the
query with the real local model. The vector cache's memory is measured for those chunks.

Results are printed as a table and merged into bench/results/retrieval.json under the
database's name.
"""

from __future__ import annotations

import argparse
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
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results" / "retrieval.json"
BENCH_DATABASE = "bytchat_bench_retrieval"
MODES = ("keyword", "semantic", "hybrid")
K = 5
INDEXING_ROUNDS = 5
SENTENCES_PER_CHUNK = 4


def prepare_database(args) -> tuple[str, callable]:
    if args.database == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="bytchat-retrieval-"))
        return f"sqlite:///{folder / 'bench.sqlite3'}", lambda: shutil.rmtree(folder, ignore_errors=True)
    import psycopg

    def admin(sql: str) -> None:
        with psycopg.connect(args.postgres_url, autocommit=True) as connection:
            connection.execute(sql)

    admin(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
    admin(f"CREATE DATABASE {BENCH_DATABASE}")

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        admin(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")

    return args.postgres_url.rsplit("/", 1)[0] + f"/{BENCH_DATABASE}", drop


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _rank(hits, question) -> int | None:
    for position, hit in enumerate(hits, start=1):
        if hit.document_name == question["doc"] and question["a"] in " ".join(hit.text.split()):
            return position
    return None


def quality(owner) -> dict:
    from django.conf import settings
    from django.core.files.base import ContentFile

    from bots import services
    from bots.knowledge.embeddings import _passage_model, get_embedder
    from bots.knowledge.search import search
    from bots.models import Bot
    from chat.llm.base import Source
    from chat.llm.local import select_sentences

    documents = json.loads((DATA / "retrieval_documents.json").read_text())
    questions = json.loads((DATA / "retrieval_questions.json").read_text())
    # Quality only (nothing is timed here): embed each question once for every mode.
    embedder = get_embedder()
    embed_queries, memo = embedder.embed_queries, {}

    def remembered(texts):
        key = tuple(texts)
        if key not in memo:
            memo[key] = embed_queries(texts)
        return memo[key]

    embedder.embed_queries = remembered
    # A worker loads the model once and then indexes: the load is timed on its own.
    started = time.perf_counter()
    embedder.embed_passages(["warm-up"])
    load_seconds = time.perf_counter() - started

    def index_all(bot) -> tuple[int, float]:
        # The uploads are the web process's work; what a worker does is timed.
        uploaded = [
            services.document_upload(
                user=owner,
                bot=bot,
                file=ContentFile("\f".join(document["pages"]).encode(), name=document["name"]),
                enqueue=False,
            )
            for document in documents
        ]
        # Each round starts with a tokenizer that has seen none of these words.
        _passage_model()._word_ids.clear()
        chunks, started = 0, time.perf_counter()
        for document in uploaded:
            outcome = services.document_index(document_id=document.pk)
            assert outcome is not None and outcome.status == "ready", outcome
            chunks += outcome.chunks
        return chunks, time.perf_counter() - started

    # The set is small (about a second of indexing), and this machine's shared cores run
    # it up to a fifth slower now and then: it is indexed INDEXING_ROUNDS times, into a
    # bot each, and the median round is the figure. The first bot is the one searched.
    rounds, reference = [], []
    for number in range(INDEXING_ROUNDS):
        reference.append(blas_gflops())
        round_bot = Bot.objects.create(owner=owner, name_es=f"Evaluación {number + 1}", language="es")
        chunks, seconds = index_all(round_bot)
        rounds.append(chunks / seconds)
        if number == 0:
            bot = round_bot
        print(f"  round {number + 1}: {chunks} chunks indexed in {seconds:.2f} s", flush=True)

    per_mode = {}
    for mode in MODES:
        ranks = [
            (question, _rank(search(bot, question["q"], K, mode=mode), question)) for question in questions
        ]
        per_mode[mode] = _figures(ranks)
        print(
            f"  {mode}: {json.dumps({k: v for k, v in per_mode[mode].items() if k != 'missed'})}", flush=True
        )

    answered = []
    for question in questions:
        hits = search(bot, question["q"], K)
        sources = [
            Source(index=number, text=hit.text, source_name=hit.document_name, score=hit.score)
            for number, hit in enumerate(hits, start=1)
        ]
        selected = select_sentences(question["q"], sources)
        answered.append(
            any(
                question["a"] in sentence and source.source_name == question["doc"]
                for sentence, source in selected
            )
        )
    embedder.embed_queries = embed_queries
    print(f"  local answers: {sum(answered)}/{len(answered)}", flush=True)
    return {
        "documents": len(documents),
        "questions": len(questions),
        "questions_by_kind": {
            kind: sum(1 for question in questions if question["kind"] == kind)
            for kind in ("direct", "paraphrase", "cross")
        },
        "chunks": chunks,
        "indexing_chunks_per_second": round(statistics.median(rounds), 2),
        "indexing_rounds_chunks_per_second": [round(value, 2) for value in rounds],
        "indexing_threads": settings.EMBEDDINGS_LOCAL_THREADS,
        "machine_blas_gflops_one_thread": round(statistics.median(reference), 1),
        "machine_blas_gflops_by_round": [round(value, 1) for value in reference],
        "model_load_seconds": round(load_seconds, 2),
        "modes": per_mode,
        "local_answers_with_answering_sentence": round(sum(answered) / len(answered), 3),
    }


def blas_gflops() -> float:
    """This machine's speed now, beside the indexing rounds: one thread of numpy's BLAS on
    the encoder's feed-forward product for 1,024 tokens (the median of five), in GFLOP/s. Its
    shared cores vary by a fifth or more from one minute to the next: a figure read with
    this one says whether the code or the machine changed."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    rows, inner, outer = 1024, 384, 1536
    generator = np.random.default_rng(0)
    left = generator.random((rows, inner), dtype=np.float32)
    right = generator.random((inner, outer), dtype=np.float32)
    seconds = []
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(10):
                left @ right
            seconds.append((time.perf_counter() - started) / 10)
    return 2 * rows * inner * outer / statistics.median(seconds) / 1e9


def _figures(ranks) -> dict:
    def block(rows) -> dict:
        count = len(rows) or 1
        return {
            "recall@1": round(sum(1 for _, rank in rows if rank == 1) / count, 3),
            "recall@5": round(sum(1 for _, rank in rows if rank and rank <= 5) / count, 3),
            "mrr": round(sum(1 / rank for _, rank in rows if rank) / count, 3),
        }

    figures = block(ranks)
    figures["by_kind"] = {
        kind: block([row for row in ranks if row[0]["kind"] == kind])
        for kind in ("direct", "paraphrase", "cross")
    }
    figures["missed"] = [question["q"] for question, rank in ranks if rank != 1]
    return figures


def synthetic_knowledge(bot, chunk_count: int, seed: int) -> None:
    """Give `bot` `chunk_count` synthetic chunks, in documents of 1,000, Spanish and English
    by turns: Zipf text from search_bench with its full-text index, and random unit
    vectors marked as the local model's (embedding them for real would take hours here),
    with four sentence vectors a chunk for the re-ranking (the evaluation set averages 4.7).
    The chat benchmark's knowledge bot is made the same way."""
    import numpy as np
    from django.db import connection

    from bench.search_bench import document_text, vocabulary, zipf_weights
    from bots.knowledge.embeddings import get_embedder
    from bots.knowledge.search import index_document_chunks
    from bots.models import Chunk, Document, DocumentStatus

    embedder = get_embedder()
    rng = random.Random(seed)
    generator = np.random.default_rng(seed)
    vocabularies = {language: vocabulary(language, 30_000, rng) for language in ("es", "en")}
    weights = {language: zipf_weights(len(words)) for language, words in vocabularies.items()}
    print(
        f"Writing {chunk_count:,} synthetic chunks with random vectors on {connection.vendor}...", flush=True
    )
    per_document = 1000
    written = 0
    started = time.perf_counter()
    while written < chunk_count:
        language = "es" if written // per_document % 2 == 0 else "en"
        count = min(per_document, chunk_count - written)
        document = Document.objects.create(
            bot=bot,
            file=f"documents/synthetic-{written}.txt",
            original_name=f"synthetic-{written}.txt",
            content_type="text/plain",
            size=0,
            sha256="0" * 64,
            status=DocumentStatus.READY,
            chunk_count=count,
            embedding_model=embedder.key,
            embedding_dimensions=embedder.dimensions,
        )
        text = document_text(vocabularies[language], weights[language], rng, count * 800)
        words = text.split()
        matrix = generator.standard_normal((count, embedder.dimensions)).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        sentences = generator.standard_normal((count, SENTENCES_PER_CHUNK, embedder.dimensions))
        sentences = (sentences / np.linalg.norm(sentences, axis=2, keepdims=True)).astype(np.float16)
        Chunk.objects.bulk_create(
            (
                Chunk(
                    document=document,
                    bot=bot,
                    position=position,
                    text=" ".join(words[position * 120 : position * 120 + 120]) or "vacío",
                    page_numbers=[1],
                    embedding=matrix[position].tobytes(),
                    sentence_embeddings=sentences[position].tobytes(),
                )
                for position in range(count)
            ),
            batch_size=1000,
        )
        index_document_chunks(document_id=document.pk, language=bot.language)
        written += count
    print(f"  written in {time.perf_counter() - started:.0f} s", flush=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE bots_chunk")


def latency(owner, chunk_count: int, seed: int) -> dict:
    from bots.knowledge import vectors
    from bots.knowledge.embeddings import get_embedder
    from bots.knowledge.search import search
    from bots.models import Bot

    embedder = get_embedder()
    bot = Bot.objects.create(owner=owner, name_es="Latencia", language="es")
    synthetic_knowledge(bot, chunk_count, seed)

    questions = [question["q"] for question in json.loads((DATA / "retrieval_questions.json").read_text())]
    vectors.clear_cache()
    started = time.perf_counter()
    search(bot, questions[0], K, mode="semantic")
    cache_load_ms = (time.perf_counter() - started) * 1000
    cache_bytes = vectors.cache_bytes()
    for question in questions[:5]:  # warm
        search(bot, question, K)
    timings: dict[str, list[float]] = {mode: [] for mode in MODES}
    # CPU time of this process too: on a shared machine, wall-clock time includes waiting
    # for a core (PostgreSQL's own work is not in it).
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    embed_ms = []
    for _ in range(2):
        for question in questions:
            started = time.perf_counter()
            embedder.embed_queries([question])
            embed_ms.append((time.perf_counter() - started) * 1000)
            for mode in MODES:
                started, started_cpu = time.perf_counter(), time.process_time()
                search(bot, question, K, mode=mode)
                timings[mode].append((time.perf_counter() - started) * 1000)
                cpu[mode].append((time.process_time() - started_cpu) * 1000)
    return {
        "chunks": chunk_count,
        "vectors": (
            f"synthetic random unit vectors (384 dimensions, float32), {SENTENCES_PER_CHUNK} sentence "
            "vectors a chunk (float16); query embedding real"
        ),
        "search_ms": {
            mode: {
                "p50": round(percentile(values, 0.5), 1),
                "p95": round(percentile(values, 0.95), 1),
                "mean": round(statistics.fmean(values), 1),
            }
            for mode, values in timings.items()
        },
        "search_cpu_ms": {
            mode: {"p50": round(percentile(values, 0.5), 1), "p95": round(percentile(values, 0.95), 1)}
            for mode, values in cpu.items()
        },
        "query_embedding_ms": {
            "p50": round(percentile(embed_ms, 0.5), 1),
            "p95": round(percentile(embed_ms, 0.95), 1),
        },
        "vector_cache_load_ms": round(cache_load_ms, 0),
        "vector_cache_mb_per_100k_chunks": round(cache_bytes / chunk_count * 100_000 / 2**20, 1),
    }


def run(args) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User

    call_command("migrate", verbosity=0)
    owner = User.objects.create_user(email="bench@bytchat.local", password=None)
    print(f"Indexing the evaluation set on {connection.vendor} with the local embedder...", flush=True)
    result = {"database": connection.vendor, "quality": quality(owner)}
    if args.chunks:
        result["latency"] = latency(owner, args.chunks, args.seed)
        result["latency"]["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        result["latency"]["load_average"] = [round(value, 1) for value in os.getloadavg()]
    result.update(
        {
            "targets": {
                "hybrid_recall@1": 0.95,
                "hybrid_recall@5": 1.0,
                "cross_language_hybrid_recall@5": 0.95,
                "local_answers": 0.9,
                "hybrid_p95_ms_at_100k": 60,
                "indexing_chunks_per_second": 25,
            },
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "load_average": [round(value, 1) for value in os.getloadavg()],
                "python": platform.python_version(),
            },
            "command": "DEBUG=true .venv/bin/python bench/retrieval_bench.py " + " ".join(sys.argv[1:]),
        }
    )
    return result


def print_table(result: dict) -> None:
    quality = result["quality"]
    print(
        f"\nRetrieval on {result['database']}: {quality['questions']} questions, {quality['chunks']} chunks"
    )
    print(f"{'mode':<10} {'R@1':>6} {'R@5':>6} {'MRR':>6} {'cross R@5':>10} {'para R@1':>9}")
    for mode, figures in quality["modes"].items():
        print(
            f"{mode:<10} {figures['recall@1']:>6} {figures['recall@5']:>6} {figures['mrr']:>6} "
            f"{figures['by_kind']['cross']['recall@5']:>10} {figures['by_kind']['paraphrase']['recall@1']:>9}"
        )
    print(
        f"local answers with the answering sentence and its [n]: {quality['local_answers_with_answering_sentence']}"
    )
    print(
        f"indexing (local embedder, real text, {quality['indexing_threads']} thread(s)): "
        f"{quality['indexing_chunks_per_second']} chunks/s (median of "
        f"{', '.join(map(str, quality['indexing_rounds_chunks_per_second']))}), after loading the model in "
        f"{quality['model_load_seconds']} s; this machine's BLAS meanwhile, one thread: "
        f"{quality['machine_blas_gflops_one_thread']} GFLOP/s (median of "
        f"{', '.join(map(str, quality['machine_blas_gflops_by_round']))})"
    )
    if "latency" in result:
        latency = result["latency"]
        print(f"\nLatency at {latency['chunks']:,} chunks (query embedding included):")
        for mode, figures in latency["search_ms"].items():
            cpu = latency["search_cpu_ms"][mode]
            print(
                f"  {mode:<10} p50 {figures['p50']} ms  p95 {figures['p95']} ms"
                f"  (CPU of this process p50 {cpu['p50']} ms, p95 {cpu['p95']} ms)"
            )
        print(f"  query embedding alone: p50 {latency['query_embedding_ms']['p50']} ms")
        print(f"  vector cache: {latency['vector_cache_mb_per_100k_chunks']} MB per 100k chunks")
    print(f"machine load average: {result['machine']['load_average']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--chunks", type=int, default=100_000, help="Latency bot size; 0 skips the latency part."
    )
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    url, cleanup = prepare_database(args)
    media = Path(tempfile.mkdtemp(prefix="bytchat-retrieval-media-"))
    os.environ.update({"DATABASE_URL": url, "MEDIA_ROOT": str(media), "EMBEDDINGS_PROVIDER": "local"})
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bytchat.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False
    try:
        result = run(args)
    finally:
        cleanup()
        shutil.rmtree(media, ignore_errors=True)
    print_table(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    stored = json.loads(args.output.read_text()) if args.output.exists() else {}
    earlier = stored.get(result["database"], {}).get("latency")
    if "latency" not in result and earlier:
        # A quality-only run (--chunks 0) keeps the last latency run, dated by its own run.
        result["latency"] = earlier
    stored[result["database"]] = result
    args.output.write_text(json.dumps(stored, indent=2, ensure_ascii=False) + "\n")
    print(f"\nWritten to {args.output}")


if __name__ == "__main__":
    main()

"""Analytics endpoints at scale: fill PostgreSQL with a million runs, then time every endpoint.

    DEBUG=true .venv/bin/python bench/analytics_bench.py [--runs 1000000] [--repeat 15] [--keep]

It (re)creates the database `bytchat_bench_analytics` on postgres://postgres@127.0.0.1:5432
(override with BENCH_DATABASE_URL), migrates it, fills it in SQL (INSERT ... SELECT over
generate_series: the fixture is not the code under test), computes the daily rollups the way
the beat task does, then calls each endpoint through the real views with an admin's token.
It prints a table (endpoint, p50, p95 in ms, queries) and writes bench/results/analytics.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bytchat_bench_analytics"
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)

# Settings read the environment on import: point them at the bench database first.
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("THROTTLE_USER", "1000000/minute")
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bytchat.settings")
sys.path.insert(0, str(ROOT))

USERS = 200
BOTS = 20
DAYS = 90
RUNS_PER_CONVERSATION = 20
FEEDBACK_SHARE = 0.06  # of answers

COMMENTS = [
    "The answer was wrong and too long",
    "No encontró la información del documento",
    "La respuesta es incorrecta, el plazo no es ese",
    "It did not cite the policy, the answer was vague",
    "Respuesta muy lenta y no contestó la pregunta",
    "Wrong numbers in the table, outdated information",
    "No entiende la pregunta, respuesta genérica",
    "Too slow, and the citation pointed to the wrong page",
    "",
]


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _maintenance_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.replace("postgres", "postgresql", 1), parts.netloc, "/postgres", "", ""))


def recreate_database() -> None:
    import psycopg

    name = _database_name(DATABASE_URL)
    with psycopg.connect(_maintenance_url(DATABASE_URL), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    for connection in connections.all():
        pool = getattr(connection, "pool", None)
        if pool is not None:
            pool.close()
    name = _database_name(DATABASE_URL)
    with psycopg.connect(_maintenance_url(DATABASE_URL), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill(runs: int) -> dict[str, int]:
    """Users and bots through the ORM (a few rows, so model defaults apply), the rest in SQL."""
    from django.db import connection

    from accounts.models import User
    from bots.models import Bot

    User.objects.bulk_create(
        User(email=f"user{number}@bench.local", full_name=f"User {number}", password="!")
        for number in range(USERS)
    )
    Bot.objects.bulk_create(
        Bot(name_es=f"Asistente {number}", name_en=f"Assistant {number}", is_public=True)
        for number in range(BOTS)
    )
    conversations = max(1, runs // RUNS_PER_CONVERSATION)
    span = f"{DAYS} days"
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            "CREATE TEMP TABLE bench_user AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM accounts_user"
        )
        cursor.execute(
            "CREATE TEMP TABLE bench_bot AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM bots_bot"
        )
        # One plan row per run: its time (oldest first, spread evenly over the period), its
        # conversation (runs come in blocks of 20) and its random outcome.
        cursor.execute(
            f"""
            CREATE TEMP TABLE bench_plan AS
            SELECT i,
                   i / {RUNS_PER_CONVERSATION} AS conversation_number,
                   date_trunc('second', now() - interval '{span}' * (1 - (i + 1)::float / %s)) AS at,
                   random() AS outcome,
                   random() AS speed,
                   random() AS rated
              FROM generate_series(0, %s - 1) AS i
            """,
            [runs, runs],
        )
        cursor.execute(
            f"""
            INSERT INTO chat_conversation
                (id, user_id, bot_id, title, archived, message_count, last_message_at, created_at, updated_at)
            SELECT md5('c' || c)::uuid,
                   (SELECT id FROM bench_user WHERE n = mod(c::bigint * 7919, {USERS})),
                   (SELECT id FROM bench_bot WHERE n = floor({BOTS} * power(mod(c::bigint * 104729, 1000) / 1000.0, 2))::int),
                   'Conversation ' || c, false, 0, NULL,
                   now() - interval '{span}' * (1 - (c * {RUNS_PER_CONVERSATION} + 1)::float / %s) - interval '1 minute',
                   now()
              FROM generate_series(0, %s - 1) AS c
            """,
            [runs, conversations],
        )
        cursor.execute(
            """
            INSERT INTO chat_message
                (id, conversation_id, role, content, status, model, provider, input_tokens, output_tokens, created_at)
            SELECT md5('u' || i)::uuid, md5('c' || conversation_number)::uuid, 'user',
                   'What does the handbook say about topic ' || (i % 997) || '?', 'complete', '', '', 0, 0, at
              FROM bench_plan
            UNION ALL
            SELECT md5('a' || i)::uuid, md5('c' || conversation_number)::uuid, 'assistant',
                   'According to the handbook [1], topic ' || (i % 997) || ' is covered in section 3.',
                   CASE WHEN outcome < 0.03 THEN 'incomplete' ELSE 'complete' END,
                   'gpt-4o-mini', 'openai', 150 + (i % 400), 40 + (i % 300), at + interval '1 second'
              FROM bench_plan WHERE outcome >= 0.02
            """
        )
        cursor.execute(
            """
            INSERT INTO analytics_run
                (id, user_id, bot_id, conversation_id, message_id, input_text, task_type, provider, model,
                 input_tokens, output_tokens, ttft_ms, latency_ms, status, error_code, failed_attempts, created_at)
            SELECT md5('r' || p.i)::uuid, c.user_id, c.bot_id, c.id,
                   CASE WHEN p.outcome >= 0.02 THEN md5('a' || p.i)::uuid END,
                   'What does the handbook say about topic ' || (p.i % 997) || '?',
                   'general',
                   CASE WHEN p.i % 10 < 7 THEN 'openai' ELSE 'gemini' END,
                   CASE WHEN p.i % 10 < 7 THEN 'gpt-4o-mini' ELSE 'gemini-2.0-flash' END,
                   CASE WHEN p.outcome >= 0.02 THEN 150 + (p.i % 400) ELSE 0 END,
                   CASE WHEN p.outcome >= 0.02 THEN 40 + (p.i % 300) ELSE 0 END,
                   CASE WHEN p.outcome >= 0.02 THEN (150 + 900 * power(p.speed, 3))::int END,
                   (400 + 12000 * power(p.speed, 4))::int,
                   CASE WHEN p.outcome < 0.02 THEN 'error' WHEN p.outcome < 0.03 THEN 'incomplete'
                        ELSE 'success' END,
                   CASE WHEN p.outcome < 0.02 THEN 'PROVIDER_ERROR' ELSE '' END,
                   CASE WHEN p.outcome < 0.05
                        THEN '[{"provider": "openai", "model_id": "gpt-4o", "code": "TIMEOUT", "message": "Timed out", "config_id": null}]'::jsonb
                        ELSE '[]'::jsonb END,
                   p.at + interval '1 second'
              FROM bench_plan AS p
              JOIN chat_conversation AS c ON c.id = md5('c' || p.conversation_number)::uuid
            """
        )
        comments = "ARRAY[" + ", ".join("%s" for _ in COMMENTS) + "]"
        cursor.execute(
            f"""
            INSERT INTO chat_feedback (id, message_id, user_id, rating, comment, created_at, updated_at)
            SELECT md5('f' || p.i)::uuid, md5('a' || p.i)::uuid, c.user_id,
                   CASE WHEN p.rated < {FEEDBACK_SHARE} * 0.7 THEN 'thumbs_up' ELSE 'thumbs_down' END,
                   CASE WHEN p.rated < {FEEDBACK_SHARE} * 0.7 THEN ''
                        ELSE ({comments})[1 + mod(p.i, {len(COMMENTS)})] END,
                   p.at + interval '2 minutes', p.at + interval '2 minutes'
              FROM bench_plan AS p
              JOIN chat_conversation AS c ON c.id = md5('c' || p.conversation_number)::uuid
             WHERE p.outcome >= 0.02 AND p.rated < {FEEDBACK_SHARE}
            """,
            COMMENTS,
        )
        cursor.execute(
            """
            UPDATE chat_conversation AS c
               SET message_count = counted.messages, last_message_at = counted.last_at
              FROM (SELECT conversation_id, count(*) AS messages, max(created_at) AS last_at
                      FROM chat_message GROUP BY conversation_id) AS counted
             WHERE counted.conversation_id = c.id
            """
        )
        cursor.execute("DROP TABLE bench_plan, bench_user, bench_bot")
        counts = {}
        for table in (
            "accounts_user",
            "bots_bot",
            "chat_conversation",
            "chat_message",
            "chat_feedback",
            "analytics_run",
        ):
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
    return counts


def vacuum() -> None:
    from django.db import connection

    # Index-only scans need the visibility map a fresh bulk load lacks; autovacuum does
    # this on a live database.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    rank = fraction * (len(ordered) - 1)
    lower = int(rank)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (rank - lower)


def endpoints() -> list[tuple[str, str]]:
    from django.utils import timezone

    from bots.models import Bot
    from chat.models import Run

    busiest_bot = Run.objects.values_list("bot_id", flat=True).order_by().first()
    bot = Bot.objects.filter(pk=busiest_bot).first() or Bot.objects.first()
    user_id = Run.objects.values_list("user_id", flat=True).order_by().first()
    week_ago = (timezone.localdate() - timedelta(days=7)).isoformat()
    base = "/api/v1/analytics/"
    return [
        ("overview (30 days)", f"{base}overview?days=30"),
        ("overview (90 days)", f"{base}overview?days=90"),
        ("overview (365 days)", f"{base}overview?days=365"),
        ("daily (30 days)", f"{base}daily?days=30"),
        ("daily (90 days)", f"{base}daily?days=90"),
        ("daily (365 days)", f"{base}daily?days=365"),
        ("bots (30 days)", f"{base}bots?days=30"),
        ("users (30 days)", f"{base}users?days=30"),
        ("runs (first page)", f"{base}runs"),
        ("runs status=error", f"{base}runs?status=error"),
        ("runs bot=", f"{base}runs?bot={bot.pk}"),
        ("runs user=", f"{base}runs?user={user_id}"),
        ("runs model= + dates", f"{base}runs?model=gemini-2.0-flash&date_from={week_ago}"),
        ("feedback (30 days)", f"{base}feedback?days=30"),
        ("conversations (admin)", f"{base}conversations"),
    ]


def _measure(client, label: str, url: str, repeat: int) -> dict:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):  # warm the caches and the connection pool
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    reset_queries()  # DEBUG keeps a log; count this request's queries only
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    row = {
        "endpoint": label,
        "url": url,
        "p50_ms": round(_percentile(samples, 0.5), 1),
        "p95_ms": round(_percentile(samples, 0.95), 1),
        "queries": len(queries),
        "samples": len(samples),
    }
    print(f"  {label:<34} p50 {row['p50_ms']:>8.1f} ms   p95 {row['p95_ms']:>8.1f} ms", flush=True)
    return row


def time_endpoints(repeat: int) -> list[dict]:
    from django.test import Client

    from accounts.models import User
    from accounts.services import auth_tokens_issue
    from analytics.models import DailyStats

    admin = User.objects.create_user(email="admin@bench.local", password=None, role="admin")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {auth_tokens_issue(user=admin).access}")
    results = [_measure(api, label, url, repeat) for label, url in endpoints()]

    next_page = api.get("/api/v1/analytics/runs").json()["next"]
    results.append(_measure(api, "runs (next page, cursor)", next_page, repeat))

    session = Client()
    session.force_login(admin)
    for label, url in [
        ("admin dashboard page (30 days)", "/admin/analytics/dashboard/"),
        ("admin runs list", "/admin/chat/run/"),
        ("admin runs list, status=error", "/admin/chat/run/?status__exact=error"),
        ("admin conversations list", "/admin/chat/conversation/"),
        ("admin feedback list", "/admin/chat/feedback/"),
    ]:
        results.append(_measure(session, label, url, repeat))

    # Without rollups every day is computed live from the runs: what they save.
    DailyStats.objects.all().delete()
    for label, url in [
        ("overview (30 days, no rollups)", "/api/v1/analytics/overview?days=30"),
        ("daily (30 days, no rollups)", "/api/v1/analytics/daily?days=30"),
    ]:
        results.append(_measure(api, label, url, repeat))
    return results


def time_rollups() -> dict[str, float]:
    from analytics.services import rollup_refresh

    started = time.perf_counter()
    days = rollup_refresh()
    backfill = time.perf_counter() - started
    vacuum()
    started = time.perf_counter()
    rollup_refresh()
    refresh = time.perf_counter() - started
    print(f"rollups: backfill of {len(days)} days {backfill:.1f} s, periodic refresh {refresh * 1000:.0f} ms")
    return {
        "backfill_s": round(backfill, 2),
        "backfill_days": len(days),
        "refresh_ms": round(refresh * 1000, 1),
    }


def print_table(results: list[dict]) -> None:
    print()
    print(f"| {'endpoint':<34} | {'p50 ms':>8} | {'p95 ms':>8} | {'queries':>7} |")
    print(f"|{'-' * 36}|{'-' * 10}|{'-' * 10}|{'-' * 9}|")
    for row in results:
        print(
            f"| {row['endpoint']:<34} | {row['p50_ms']:>8.1f} | {row['p95_ms']:>8.1f} | {row['queries']:>7} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--reuse", action="store_true", help="Reuse a database kept by --keep.")
    args = parser.parse_args()

    if not args.reuse:
        recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    counts: dict[str, int] = {}
    fill_seconds = 0.0
    try:
        if args.reuse:
            from accounts.models import User
            from analytics.models import DailyActivity, DailyLatencyBucket, DailyStats

            call_command("migrate", verbosity=0)
            for model in (DailyStats, DailyActivity, DailyLatencyBucket):
                model.objects.all().delete()  # the backfill is timed again
            User.objects.filter(email="admin@bench.local").delete()
        else:
            started = time.perf_counter()
            call_command("migrate", verbosity=0)
            counts = fill(args.runs)
            vacuum()
            fill_seconds = time.perf_counter() - started
            print(f"filled in {fill_seconds:.0f} s: {counts}", flush=True)
        rollups = time_rollups()
        vacuum()
        print(f"timing {len(endpoints())} endpoints, {args.repeat} requests each:", flush=True)
        results = time_endpoints(args.repeat)
    finally:
        if not args.keep:
            drop_database()
    print_table(results)
    report = {
        "benchmark": "analytics endpoints",
        "runs": args.runs,
        "rows": counts,
        "fill_seconds": round(fill_seconds, 1),
        "rollups": rollups,
        "repeat": args.repeat,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "results": results,
        "target": "overview and daily under 300 ms at 1,000,000 runs",
    }
    out = ROOT / "bench" / "results" / "analytics.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

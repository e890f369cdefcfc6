"""List endpoints against a bare DRF view and a bare JsonResponse, in the same process.

    DEBUG=true .venv/bin/python bench/list_bench.py
    DEBUG=true .venv/bin/python bench/list_bench.py --requests 300 --rows 20

One process serves every request through Django's handler (the production middleware,
the native API's JWT authentication, PostgreSQL with its pool), called in-process so
that no client or network shares the CPU being measured. For each list endpoint it runs:
- the endpoint itself (a page of `--rows` rows, each as the API returns it);
- the bare DRF view (bench/baselines/list_urls.py): the same JWT authentication and
  permission, returning that endpoint's body with no database read and no serializer;
- a bare JsonResponse of that body, no authentication.
Reported: requests per second, CPU per request (this process plus the PostgreSQL
backends of the benchmark database), database queries per request, and the endpoint's
ratio to the bare DRF view. Target (issue 16): `GET /api/v1/bots` and
`GET /api/v1/conversations` at ≥ 0.6 x the bare DRF view's requests per second.
Writes bench/results/lists.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "lists.json"
sys.path.insert(0, str(ROOT))

from bench.chat_bench import process_cpu_seconds, setup_database  # noqa: E402

TARGET_RATIO = 0.6


def prepare(rows: int) -> tuple[str, dict[str, str]]:
    """A user with `rows` bots (two model configs each, a category), `rows` conversations,
    one of `rows` messages with citations, `rows` documents, and public platform bots."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import Plan, User
    from bots.models import Bot, Category, Document, ModelConfig
    from chat.models import Citation, Conversation, Message

    call_command("migrate", verbosity=0)
    plan = Plan.objects.create(name="Benchmark")
    user = User.objects.create(email="lists@example.com", plan=plan)
    category = Category.objects.create(name_en="Work", name_es="Trabajo")
    bots = Bot.objects.bulk_create(
        Bot(owner=user, name_en=f"Bot {number}", language="en", category=category, system_prompt="Be brief.")
        for number in range(rows)
    )
    Bot.objects.bulk_create(
        Bot(owner=None, is_public=True, name_en=f"Agent {number}", category=category) for number in range(5)
    )
    ModelConfig.objects.bulk_create(
        ModelConfig(bot=bot, provider=provider, model_id=model, priority=priority)
        for bot in bots
        for priority, (provider, model) in enumerate([("local", ""), ("openai", "gpt-4o-mini")], start=1)
    )
    conversations = Conversation.objects.bulk_create(
        Conversation(user=user, bot=bots[0], title=f"Conversation {number}") for number in range(rows)
    )
    messages = Message.objects.bulk_create(
        Message(
            conversation=conversations[0],
            role="user" if number % 2 == 0 else "assistant",
            content="Hello " * 40,
        )
        for number in range(rows)
    )
    Citation.objects.bulk_create(
        Citation(message=message, index=1, source_name="notes.txt", page_numbers=[1], snippet="A snippet.")
        for message in messages[1::2]
    )
    Document.objects.bulk_create(
        Document(bot=bots[0], original_name=f"doc{number}.txt", size=100, status="ready")
        for number in range(rows)
    )
    token = str(AccessToken.for_user(user))
    paths = {
        "bots": "/api/v1/bots",
        "conversations": "/api/v1/conversations",
        "messages": f"/api/v1/conversations/{conversations[0].pk}/messages",
        "documents": f"/api/v1/bots/{bots[0].pk}/documents",
        "categories": "/api/v1/categories",
        "models": f"/api/v1/bots/{bots[0].pk}/models",
    }
    connections.close_all()
    return token, paths


def backend_cpu_seconds(admin, db: str) -> float:
    cursor = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'", (db,)
    )
    return sum(process_cpu_seconds(pid) for (pid,) in cursor.fetchall())


class Caller:
    """GETs through Django's WSGI handler, in this process."""

    def __init__(self, token: str) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.handler = WSGIHandler()
        self.token = token

    def get(self, path: str, *, auth: bool = True) -> tuple[int, bytes]:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
        }
        if auth:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        status: list[str] = []
        body = b"".join(self.handler(environ, lambda line, headers, exc_info=None: status.append(line)))
        return int(status[0].split()[0]), body


def measure(caller: Caller, path: str, *, requests: int, auth: bool, admin, db: str, before=None) -> dict:
    """`before` (optional) runs ahead of each request, inside the measurement: a write's
    forgetting of a cached page, so that every request reads it again."""
    from django.db import connection

    for _ in range(max(5, requests // 10)):  # warm: imports, pool, caches
        if before:
            before()
        status, _body = caller.get(path, auth=auth)
        assert status == 200, (path, status)
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    cpu_db = backend_cpu_seconds(admin, db)
    cpu = time.process_time()
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        for _ in range(requests):
            if before:
                before()
            caller.get(path, auth=auth)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    cpu_db = backend_cpu_seconds(admin, db) - cpu_db
    return {
        "requests_per_s": requests / wall,
        "cpu_ms_per_request": cpu * 1000 / requests,
        "cpu_postgres_ms_per_request": cpu_db * 1000 / requests,
        "queries_per_request": queries / requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300, help="requests per endpoint and baseline")
    parser.add_argument("--rows", type=int, default=20, help="rows in each list (one page)")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--database", default="bytchat_bench_lists", help="created (and replaced) for the run"
    )
    parser.add_argument("--endpoints", nargs="+", default=None, help="bots conversations messages ...")
    parser.add_argument(
        "--redis",
        default=None,
        help="Django's cache in this Redis (as in production) instead of local memory, "
        "e.g. redis://127.0.0.1:6379/7 (flushed)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    import psycopg

    db = args.database
    admin_url = f"{args.postgres}/postgres"
    setup_database(f"{args.postgres}/{db}", admin_url, db)
    os.environ.update(
        {
            "DATABASE_URL": f"{args.postgres}/{db}",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "THROTTLE_USER": "100000000/minute",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "bench.baselines.list_settings",
        }
    )
    if args.redis:
        import redis

        redis.Redis.from_url(args.redis).flushdb()
        os.environ["REDIS_URL"] = args.redis
    else:
        os.environ.pop("REDIS_URL", None)  # local memory: the cache takes no round trip
    token, paths = prepare(args.rows)
    from accounts.models import User
    from bots.services import bot_lists_forget
    from chat.services.conversations import conversation_lists_forget

    user_id = User.objects.get().pk
    # A write before each request: the cached first page is read again every time.
    after_a_write = {
        "bots": bot_lists_forget,
        "conversations": lambda: conversation_lists_forget(user_id=user_id),
    }
    from bench.baselines import list_urls

    caller = Caller(token)
    results = {}
    print(
        f"{'endpoint':>14} {'req/s':>8} {'bare DRF':>9} {'bare JSON':>9} {'ratio':>6} "
        f"{'CPU ms':>7} {'of it PG':>8} {'bare DRF CPU':>12} {'queries':>7}"
    )
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for name in args.endpoints or list(paths):
            path = paths[name]
            status, body = caller.get(path)
            assert status == 200, (path, status, body[:300])
            list_urls.BODY.clear()
            list_urls.BODY.update(
                json.loads(body) if body.startswith(b"{") else {"results": json.loads(body)}
            )
            common = {"requests": args.requests, "admin": admin, "db": db}
            endpoint = measure(caller, path, auth=True, **common)
            bare_drf = measure(caller, "/bench/bare-drf", auth=True, **common)
            bare_json = measure(caller, "/bench/bare-json", auth=False, **common)
            ratio = endpoint["requests_per_s"] / bare_drf["requests_per_s"]
            missed = None
            if name in after_a_write:
                missed = measure(caller, path, auth=True, before=after_a_write[name], **common)
                missed["ratio_to_bare_drf"] = missed["requests_per_s"] / bare_drf["requests_per_s"]
            results[name] = {
                "path": path,
                "rows": args.rows,
                "endpoint": endpoint,
                "bare_drf": bare_drf,
                "bare_json": bare_json,
                "ratio_to_bare_drf": ratio,
                "ratio_to_bare_json": endpoint["requests_per_s"] / bare_json["requests_per_s"],
                "met": ratio >= TARGET_RATIO,
                "endpoint_after_a_write": missed,
            }
            print(
                f"{name:>14} {endpoint['requests_per_s']:>8.0f} {bare_drf['requests_per_s']:>9.0f} "
                f"{bare_json['requests_per_s']:>9.0f} {ratio:>6.2f} "
                f"{endpoint['cpu_ms_per_request'] + endpoint['cpu_postgres_ms_per_request']:>7.2f} "
                f"{endpoint['cpu_postgres_ms_per_request']:>8.2f} "
                f"{bare_drf['cpu_ms_per_request'] + bare_drf['cpu_postgres_ms_per_request']:>12.2f} "
                f"{endpoint['queries_per_request']:>7.1f}",
                flush=True,
            )
            if missed:
                print(
                    f"{'after a write':>14} {missed['requests_per_s']:>8.0f} {'':>9} {'':>9} "
                    f"{missed['ratio_to_bare_drf']:>6.2f} "
                    f"{missed['cpu_ms_per_request'] + missed['cpu_postgres_ms_per_request']:>7.2f} "
                    f"{missed['cpu_postgres_ms_per_request']:>8.2f} {'':>12} "
                    f"{missed['queries_per_request']:>7.1f}",
                    flush=True,
                )
    from django.db import connections

    connections.close_all()
    print(f"\ntarget: ≥ {TARGET_RATIO} x the bare DRF view's requests per second (bots, conversations)")
    for name in ("bots", "conversations"):
        if name in results:
            print(
                f"  {'met    ' if results[name]['met'] else 'NOT MET'}  {name}: {results[name]['ratio_to_bare_drf']:.2f}"
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "settings": {key: str(value) for key, value in vars(args).items()},
                "target_ratio_to_bare_drf": TARGET_RATIO,
                "cache": "redis" if args.redis else "local memory",
                "endpoints": results,
            },
            indent=2,
        )
    )
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()

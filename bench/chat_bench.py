"""Streaming chat benchmark: what Bytchat adds on top of the model's own stream.

    DEBUG=true .venv/bin/python bench/chat_bench.py                 # 1, 200 and 500 streams
    DEBUG=true .venv/bin/python bench/chat_bench.py --concurrency 1 50

A mock OpenAI-compatible server (bench/mock_llm.py) streams tokens with a fixed time to
first token and delay between tokens. Each level runs N concurrent streams straight from
the mock, then N through Bytchat (uvicorn, PostgreSQL, Redis) with a bot whose model is
that mock, each stream from its own user. Reported: the added time to first token and
added delay between chunks (Bytchat minus direct, at p50 and p99), the success rate, and
the most PostgreSQL connections seen during the run. Writes bench/results/chat.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "chat.json"
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_database(url: str, admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def prepare_django(env: dict[str, str], users: int, mock_url: str) -> tuple[list[str], str]:
    """Migrate the benchmark database; create users and a bot whose model is the mock."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import Plan, User
    from bots.models import Bot

    call_command("migrate", verbosity=0)
    plan = Plan.objects.create(name="Benchmark, no limits")
    password = User(email="x@example.com")
    password.set_password(secrets.token_urlsafe())
    people = User.objects.bulk_create(
        User(email=f"bench{number}@example.com", password=password.password, plan=plan)
        for number in range(users)
    )
    bot = Bot.objects.create(owner=None, is_public=True, name_en="Benchmark bot", language="en")
    bot.model_configs.create(provider="openai_compatible", model_id="mock-model", base_url=mock_url)
    tokens = [str(AccessToken.for_user(person)) for person in people]
    from django.db import connections

    connections.close_all()
    return tokens, str(bot.pk)


async def wait_until_up(url: str, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def one_stream(
    client: httpx.AsyncClient, method_url: str, body: dict, headers: dict, kind: str
) -> dict:
    """Time to first text chunk and the gaps between text chunks of one stream."""
    started = time.perf_counter()
    first = None
    last = None
    gaps: list[float] = []
    ok = False
    try:
        async with client.stream("POST", method_url, json=body, headers=headers) as response:
            if response.status_code != 200:
                return {"ok": False, "status": response.status_code}
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                payload = line[6:]
                if payload == "[DONE]":
                    ok = True
                    break
                event = json.loads(payload)
                is_text = (
                    event.get("type") == "delta"
                    if kind == "bytchat"
                    else bool(event.get("choices") and event["choices"][0]["delta"].get("content"))
                )
                now = time.perf_counter()
                if is_text:
                    if first is None:
                        first = now - started
                    else:
                        gaps.append(now - last)
                    last = now
                if kind == "bytchat" and event.get("type") == "done":
                    ok = True
                if kind == "bytchat" and event.get("type") == "error":
                    return {"ok": False, "error": event}
    except httpx.HTTPError as exc:
        return {"ok": False, "error": repr(exc)}
    return {"ok": ok and first is not None, "ttft": first, "gaps": gaps}


async def count_connections(stop: asyncio.Event, admin_url: str, name: str, peak: list[int]) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as connection:
        while not stop.is_set():
            cursor = await connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            peak[0] = max(peak[0], (await cursor.fetchone())[0])
            await asyncio.sleep(0.05)


async def run_level(
    concurrency: int,
    *,
    rounds: int,
    mock: str,
    bytchat: str,
    tokens: list[str],
    bot_id: str,
    admin_url: str,
    db: str,
) -> dict:
    limits = httpx.Limits(max_connections=concurrency + 10, max_keepalive_connections=concurrency + 10)
    timeout = httpx.Timeout(120)
    results: dict[str, list[dict]] = {"direct": [], "bytchat": []}
    peak = [0]
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        for _ in range(rounds):
            direct_body = {
                "model": "mock-model",
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            }
            results["direct"] += await asyncio.gather(
                *(
                    one_stream(client, f"{mock}/v1/chat/completions", direct_body, {}, "direct")
                    for _ in range(concurrency)
                )
            )
        stop = asyncio.Event()
        watcher = asyncio.create_task(count_connections(stop, admin_url, db, peak))
        for round_number in range(rounds):
            results["bytchat"] += await asyncio.gather(
                *(
                    one_stream(
                        client,
                        f"{bytchat}/api/v1/chat",
                        {"bot": bot_id, "message": f"Question {round_number}-{number}?"},
                        {"Authorization": f"Bearer {tokens[number]}"},
                        "bytchat",
                    )
                    for number in range(concurrency)
                )
            )
        stop.set()
        await watcher

    def summary(rows: list[dict]) -> dict:
        good = [row for row in rows if row.get("ok")]
        ttfts = [row["ttft"] * 1000 for row in good]
        gaps = [gap * 1000 for row in good for gap in row["gaps"]]
        return {
            "streams": len(rows),
            "succeeded": len(good),
            "ttft_p50_ms": percentile(ttfts, 0.5),
            "ttft_p99_ms": percentile(ttfts, 0.99),
            "gap_p50_ms": percentile(gaps, 0.5),
            "gap_p99_ms": percentile(gaps, 0.99),
            "failures": [row for row in rows if not row.get("ok")][:3],
        }

    direct, through = summary(results["direct"]), summary(results["bytchat"])
    return {
        "concurrency": concurrency,
        "direct": direct,
        "bytchat": through,
        "added_ttft_p50_ms": through["ttft_p50_ms"] - direct["ttft_p50_ms"],
        "added_ttft_p99_ms": through["ttft_p99_ms"] - direct["ttft_p99_ms"],
        "added_gap_p50_ms": through["gap_p50_ms"] - direct["gap_p50_ms"],
        "added_gap_p99_ms": through["gap_p99_ms"] - direct["gap_p99_ms"],
        "success_rate": through["succeeded"] / max(1, through["streams"]),
        "postgres_connections_peak": peak[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 200, 500])
    parser.add_argument(
        "--rounds-at-1", type=int, default=50, help="sequential streams measured at concurrency 1"
    )
    parser.add_argument("--ttft-ms", type=float, default=100)
    parser.add_argument("--token-delay-ms", type=float, default=20)
    parser.add_argument("--tokens", type=int, default=30)
    parser.add_argument("--pool-size", type=int, default=20, help="DB_POOL_MAX_SIZE for the Bytchat process")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    args = parser.parse_args()

    db = "bytchat_bench_chat"
    admin_url = f"{args.postgres}/postgres"
    database_url = f"{args.postgres}/{db}"
    setup_database(database_url, admin_url, db)
    mock_port, web_port = free_port(), free_port()
    mock, bytchat = f"http://127.0.0.1:{mock_port}", f"http://127.0.0.1:{web_port}"
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": args.redis,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DB_POOL_MAX_SIZE": str(args.pool_size),
        "OPENAI_COMPATIBLE_API_KEY": "bench",
        "LOG_LEVEL": "WARNING",
        "THROTTLE_USER": "100000/minute",
        "DJANGO_SETTINGS_MODULE": "bytchat.settings",
    }
    # At least two users: the warm-up runs two streams.
    tokens, bot_id = prepare_django(env, max(2, *args.concurrency), f"{mock}/v1")
    python = sys.executable
    processes = [
        subprocess.Popen(
            [
                python,
                "bench/mock_llm.py",
                "--port",
                str(mock_port),
                "--ttft-ms",
                str(args.ttft_ms),
                "--token-delay-ms",
                str(args.token_delay_ms),
                "--tokens",
                str(args.tokens),
            ],
            cwd=ROOT,
        ),
        subprocess.Popen(
            [
                python,
                "-m",
                "uvicorn",
                "bytchat.asgi:application",
                "--port",
                str(web_port),
                "--lifespan",
                "off",
                "--log-level",
                "warning",
                "--no-access-log",
                "--backlog",
                "2048",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
        ),
    ]
    try:
        asyncio.run(wait_until_up(f"{mock}/"))
        asyncio.run(wait_until_up(f"{bytchat}/healthz"))
        # Warm up: imports, SDK client, connection pool.
        asyncio.run(
            run_level(
                2,
                rounds=3,
                mock=mock,
                bytchat=bytchat,
                tokens=tokens,
                bot_id=bot_id,
                admin_url=admin_url,
                db=db,
            )
        )
        levels = []
        for concurrency in args.concurrency:
            rounds = args.rounds_at_1 if concurrency == 1 else 1
            levels.append(
                asyncio.run(
                    run_level(
                        concurrency,
                        rounds=rounds,
                        mock=mock,
                        bytchat=bytchat,
                        tokens=tokens,
                        bot_id=bot_id,
                        admin_url=admin_url,
                        db=db,
                    )
                )
            )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)

    header = f"{'streams':>8} {'ok %':>6} {'+TTFT p50':>10} {'+TTFT p99':>10} {'+gap p50':>9} {'+gap p99':>9} {'PG conns':>8}"
    print(
        f"\nmock: TTFT {args.ttft_ms} ms, {args.tokens} tokens every {args.token_delay_ms} ms; pool {args.pool_size}"
    )
    print(header)
    for level in levels:
        print(
            f"{level['concurrency']:>8} {level['success_rate'] * 100:>6.1f} {level['added_ttft_p50_ms']:>10.2f} "
            f"{level['added_ttft_p99_ms']:>10.2f} {level['added_gap_p50_ms']:>9.2f} {level['added_gap_p99_ms']:>9.2f} "
            f"{level['postgres_connections_peak']:>8}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "settings": vars(args),
                "levels": levels,
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

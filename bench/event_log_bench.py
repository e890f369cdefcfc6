"""Event log on and off, side by side: what the resumable answers cost a streaming chat.

The streaming chat benchmark as it stood when the event log came (before
`bench/event_log_bench.py` gained its baselines), kept for its `--event-log compare` mode,
which is the default here.

    DEBUG=true .venv/bin/python bench/event_log_bench.py          # 1, 50, 200 and 500 streams
    DEBUG=true .venv/bin/python bench/event_log_bench.py --concurrency 1 20 --modes steady

A mock OpenAI-compatible server (bench/mock_llm.py) streams tokens with a fixed time to
first token and delay between tokens. Bytchat runs as in production: uvicorn with
`--workers` processes (WEB_CONCURRENCY, 2 in docker-compose), PostgreSQL with its pool,
Redis. Its bot's only model is that mock; each stream comes from its own user, whose plan
has every limit set (high enough not to trip), so every check runs.

Each concurrency N is measured twice, straight from the mock and then through Bytchat:
- steady: N streams open at all times, as `wrk -c N` holds N connections. N clients
  each chat in a loop, a new question as soon as the last answer ends, continuing their
  conversation; their first questions are spread over one answer's length. Streams that
  start in the first `--warmup` seconds are not counted, nor those that start after
  `--duration` seconds more (longer if that would count fewer than `--min-streams`).
- burst: N streams started in the same instant, each a new conversation.
At N = 1 the two are the same: one stream after another.

Reported: the added time to first token and added delay between chunks (Bytchat minus
direct, at p50 and p99), the success rate, and the most PostgreSQL connections seen.
The client is a few lines of asyncio that read the chunked body and look for event
markers without parsing JSON, so that the harness takes little of the CPU it measures.
Writes bench/results/chat.json.

    DEBUG=true .venv/bin/python bench/event_log_bench.py --event-log compare --concurrency 1 50 --modes steady

With `--event-log compare`, a second Bytchat server runs with CHAT_EVENT_LOG=off (each
model call tied to its connection, no stop and no resume: the engine before the event
log) and every level is measured on both, side by side: the added time to first token and
delay between chunks with the log on (Redis Streams) against off. Writes
bench/results/chat_event_log.json instead.
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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


def prepare_django(env: dict[str, str], users: int) -> tuple[list[str], str]:
    """Migrate the benchmark database; create users and a bot whose model is the mock."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import Plan, User
    from bots.models import Bot

    call_command("migrate", verbosity=0)
    # Every limit set, none reached: each turn runs every check it would in production.
    plan = Plan.objects.create(
        name="Benchmark, every limit",
        max_conversations_per_bot=100_000,
        max_active_conversations=100_000,
        max_messages_per_conversation=100_000,
        messages_per_minute=100_000,
        monthly_token_quota=10**12,
    )
    password = User(email="x@example.com")
    password.set_password(secrets.token_urlsafe())
    people = User.objects.bulk_create(
        User(email=f"bench{number}@example.com", password=password.password, plan=plan)
        for number in range(users)
    )
    bot = Bot.objects.create(owner=None, is_public=True, name_en="Benchmark bot", language="en")
    # No base URL of its own: the mock is the operator's server (OPENAI_COMPATIBLE_BASE_URL).
    bot.model_configs.create(provider="openai_compatible", model_id="mock-model")
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


@dataclass
class Target:
    """Where streams go and how to read their events."""

    host: str
    port: int
    path: str
    is_text: Callable[[bytes], bool]
    is_done: Callable[[bytes], bool]
    is_error: Callable[[bytes], bool] = lambda event: False


def bytchat_target(url: str) -> Target:
    host, port = url.removeprefix("http://").split(":")
    return Target(
        host,
        int(port),
        "/api/v1/chat",
        is_text=lambda event: event.startswith(b'data: {"type":"delta"'),
        is_done=lambda event: event.startswith(b'data: {"type":"done"'),
        is_error=lambda event: event.startswith(b'data: {"type":"error"'),
    )


def mock_target(url: str) -> Target:
    host, port = url.removeprefix("http://").split(":")
    return Target(
        host,
        int(port),
        "/v1/chat/completions",
        is_text=lambda event: b'"content": "' in event,
        is_done=lambda event: event == b"data: [DONE]",
    )


async def one_stream(target: Target, body: dict, headers: dict[str, str]) -> dict:
    """Time to first text event and the gaps between text events of one stream; the
    conversation it belongs to, when the server says."""
    payload = json.dumps(body).encode()
    head = "".join(
        f"{name}: {value}\r\n"
        for name, value in {
            "Host": f"{target.host}:{target.port}",
            "Content-Type": "application/json",
            "Content-Length": str(len(payload)),
            "Connection": "close",
            **headers,
        }.items()
    )
    started = time.perf_counter()
    first = last = None
    gaps: list[float] = []
    conversation = None
    try:
        reader, writer = await asyncio.open_connection(target.host, target.port)
    except OSError as exc:
        return {"ok": False, "error": repr(exc)}
    try:
        writer.write(f"POST {target.path} HTTP/1.1\r\n{head}\r\n".encode() + payload)
        status = int((await reader.readline()).split()[1])
        chunked = False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            chunked |= line.lower() == b"transfer-encoding: chunked\r\n"
        if status != 200:
            return {"ok": False, "status": status}
        pending = b""
        while True:
            if chunked:
                size = int((await reader.readline()).strip() or b"0", 16)
                if size == 0:
                    return {"ok": False, "error": "the stream ended without its last event"}
                data = (await reader.readexactly(size + 2))[:-2]
            else:
                data = await reader.read(65536)
                if not data:
                    return {"ok": False, "error": "the stream ended without its last event"}
            pending += data
            *events, pending = pending.split(b"\n\n")
            now = time.perf_counter()
            for event in events:
                if event.startswith(b"id: "):  # the event's id line comes first
                    event = event.partition(b"\n")[2]
                if target.is_text(event):
                    if first is None:
                        first = now - started
                    else:
                        gaps.append(now - last)
                    last = now
                elif conversation is None and event.startswith(b'data: {"type":"session_init"'):
                    conversation = json.loads(event[6:])["conversation_id"]
                elif target.is_error(event):
                    return {"ok": False, "error": event.decode()}
                elif target.is_done(event):
                    return {
                        "ok": first is not None,
                        "ttft": first,
                        "gaps": gaps,
                        "conversation": conversation,
                    }
    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
        return {"ok": False, "error": repr(exc)}
    finally:
        writer.close()


async def count_connections(stop: asyncio.Event, admin_url: str, name: str, peak: list[int]) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as connection:
        while not stop.is_set():
            cursor = await connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            peak[0] = max(peak[0], (await cursor.fetchone())[0])
            await asyncio.sleep(0.05)


DIRECT_BODY = {"model": "mock-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


class Level:
    """One concurrency level against one target (the mock, or Bytchat)."""

    def __init__(self, target: Target, tokens: list[str], bot_id: str, *, through: bool) -> None:
        self.target = target
        self.tokens = tokens
        self.bot_id = bot_id
        self.through = through

    def stream(self, client: int, number: int, conversation: str | None) -> Awaitable[dict]:
        if not self.through:
            return one_stream(self.target, DIRECT_BODY, {})
        body = {"bot": self.bot_id, "message": f"Question {number} from {client}: what is new?"}
        if conversation:
            body["conversation"] = conversation
        return one_stream(self.target, body, {"Authorization": f"Bearer {self.tokens[client]}"})

    async def burst(self, concurrency: int) -> list[dict]:
        return await asyncio.gather(*(self.stream(client, 0, None) for client in range(concurrency)))

    async def steady(
        self, concurrency: int, *, warmup: float, duration: float, answer_s: float
    ) -> list[dict]:
        loop = asyncio.get_running_loop()
        counted_from = loop.time() + warmup
        stop_at = counted_from + duration
        results: list[dict] = []

        async def client(number: int) -> None:
            await asyncio.sleep(answer_s * number / concurrency)
            conversation = None
            turn = 0
            while loop.time() < stop_at:
                started = loop.time()
                result = await self.stream(number, turn, conversation)
                conversation = result.get("conversation") or conversation
                turn += 1
                if started >= counted_from:
                    results.append(result)
                if not result.get("ok"):
                    await asyncio.sleep(0.1)

        await asyncio.gather(*(client(number) for number in range(concurrency)))
        return results


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


async def run_level(
    concurrency: int,
    mode: str,
    *,
    direct: Level,
    bytchat: Level,
    admin_url: str,
    db: str,
    log_off: Level | None = None,
    **steady,
) -> dict:
    async def measure(level: Level) -> list[dict]:
        if mode == "burst":
            return await level.burst(concurrency)
        return await level.steady(concurrency, **steady)

    straight = summary(await measure(direct))
    peak = [0]
    stop = asyncio.Event()
    watcher = asyncio.create_task(count_connections(stop, admin_url, db, peak))
    if log_off is not None:  # on and off in turns, so that both meet the same machine
        on_rows, off_rows = [], []
        for level, rows in ((log_off, off_rows), (bytchat, on_rows), (bytchat, on_rows), (log_off, off_rows)):
            rows += await measure(level)
        stop.set()
        await watcher
        return event_log_comparison(concurrency, mode, straight, summary(on_rows), summary(off_rows))
    through = summary(await measure(bytchat))
    stop.set()
    await watcher
    return {
        "concurrency": concurrency,
        "mode": mode,
        "direct": straight,
        "bytchat": through,
        "added_ttft_p50_ms": through["ttft_p50_ms"] - straight["ttft_p50_ms"],
        "added_ttft_p99_ms": through["ttft_p99_ms"] - straight["ttft_p99_ms"],
        "added_gap_p50_ms": through["gap_p50_ms"] - straight["gap_p50_ms"],
        "added_gap_p99_ms": through["gap_p99_ms"] - straight["gap_p99_ms"],
        "success_rate": through["succeeded"] / max(1, through["streams"]),
        "postgres_connections_peak": peak[0],
    }


def event_log_comparison(concurrency: int, mode: str, straight: dict, on: dict, off: dict) -> dict:
    """Added TTFT and chunk delay (Bytchat minus the mock) with the event log on and off."""
    level = {"concurrency": concurrency, "mode": mode, "direct": straight, "log_on": on, "log_off": off}
    for name in ("ttft_p50_ms", "ttft_p99_ms", "gap_p50_ms", "gap_p99_ms"):
        added_on, added_off = on[name] - straight[name], off[name] - straight[name]
        level[f"added_{name}_on"], level[f"added_{name}_off"] = added_on, added_off
        # Of the whole figure the user sees (mock + Bytchat), how much the log adds.
        level[f"{name}_on_vs_off"] = on[name] / off[name] if off[name] else float("nan")
    level["success_rate_on"] = on["succeeded"] / max(1, on["streams"])
    level["success_rate_off"] = off["succeeded"] / max(1, off["streams"])
    return level


EVENT_LOG_HEADER = (
    f"{'streams':>8} {'mode':>7} {'log':>4} {'ok %':>6} {'+TTFT p50':>10} {'+TTFT p99':>10} "
    f"{'+gap p50':>9} {'+gap p99':>9} {'TTFT on/off':>11} {'gap on/off':>10}"
)


def print_event_log_level(level: dict) -> None:
    for log in ("off", "on"):
        ratios = (
            f"{level['ttft_p50_ms_on_vs_off']:>11.3f} {level['gap_p50_ms_on_vs_off']:>10.3f}"
            if log == "on"
            else ""
        )
        print(
            f"{level['concurrency']:>8} {level['mode']:>7} {log:>4} "
            f"{level[f'success_rate_{log}'] * 100:>6.1f} {level[f'added_ttft_p50_ms_{log}']:>10.2f} "
            f"{level[f'added_ttft_p99_ms_{log}']:>10.2f} {level[f'added_gap_p50_ms_{log}']:>9.2f} "
            f"{level[f'added_gap_p99_ms_{log}']:>9.2f} {ratios}",
            flush=True,
        )


def start_log_off_server(python: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """The same Bytchat with CHAT_EVENT_LOG=off, for `--event-log compare`."""
    port = free_port()
    command = [python, "-m", "uvicorn", "bytchat.asgi:application", "--port", str(port)]
    command += ["--workers", str(env["WEB_CONCURRENCY"]), "--lifespan", "off", "--log-level", "warning"]
    command += ["--no-access-log", "--backlog", "2048"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env, "CHAT_EVENT_LOG": "off"},
    )
    return process, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50, 200, 500])
    parser.add_argument("--modes", nargs="+", choices=["steady", "burst"], default=["steady", "burst"])
    parser.add_argument("--duration", type=float, default=20, help="seconds of steady streaming counted")
    parser.add_argument(
        "--min-streams", type=int, default=60, help="count steady streams for longer if fewer than this"
    )
    parser.add_argument("--warmup", type=float, default=5, help="seconds of steady streaming not counted")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn processes (WEB_CONCURRENCY)")
    parser.add_argument("--ttft-ms", type=float, default=100)
    parser.add_argument("--token-delay-ms", type=float, default=20)
    parser.add_argument("--tokens", type=int, default=30)
    parser.add_argument("--pool-size", type=int, default=10, help="DB_POOL_MAX_SIZE of each web process")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--database", default="bytchat_bench_chat", help="dropped and created again")
    parser.add_argument(
        "--event-log",
        choices=["on", "compare"],
        default="compare",
        help="compare: also measure CHAT_EVENT_LOG=off",
    )
    args = parser.parse_args()
    results = RESULTS if args.event_log == "on" else RESULTS.with_name("chat_event_log.json")

    db = args.database
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
        "OPENAI_COMPATIBLE_BASE_URL": f"{mock}/v1",
        "LOG_LEVEL": "WARNING",
        "THROTTLE_USER": "1000000/minute",
        "DJANGO_SETTINGS_MODULE": "bytchat.settings",
    }
    tokens, bot_id = prepare_django(env, max(*args.concurrency, 20))
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
                "--workers",
                str(args.workers),
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
    direct = Level(mock_target(mock), tokens, bot_id, through=False)
    through = Level(bytchat_target(bytchat), tokens, bot_id, through=True)
    answer_s = (args.ttft_ms + args.tokens * args.token_delay_ms) / 1000
    common = {"direct": direct, "bytchat": through, "admin_url": admin_url, "db": db}
    if args.event_log == "compare":
        process, log_off_url = start_log_off_server(python, {**env, "WEB_CONCURRENCY": str(args.workers)})
        processes.append(process)
        common["log_off"] = Level(bytchat_target(log_off_url), tokens, bot_id, through=True)
    try:
        asyncio.run(wait_until_up(f"{mock}/"))
        asyncio.run(wait_until_up(f"{bytchat}/healthz"))
        if args.event_log == "compare":
            asyncio.run(wait_until_up(f"{log_off_url}/healthz"))
        # Warm up every web process: imports, SDK clients, connection pools.
        asyncio.run(run_level(20, "burst", **common))
        levels = []
        for concurrency in args.concurrency:
            # One stream at a time is the same in both modes.
            modes = args.modes if concurrency > 1 else args.modes[:1]
            duration = max(args.duration, args.min_streams * answer_s / concurrency)
            for mode in modes:
                levels.append(
                    asyncio.run(
                        run_level(
                            concurrency,
                            mode,
                            warmup=args.warmup,
                            duration=duration,
                            answer_s=answer_s,
                            **common,
                        )
                    )
                )
                (print_level if args.event_log == "on" else print_event_log_level)(levels[-1])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)

    print(
        f"\nmock: TTFT {args.ttft_ms:g} ms, {args.tokens} tokens every {args.token_delay_ms:g} ms; "
        f"{args.workers} web processes, pool of {args.pool_size} each"
    )
    print(HEADER if args.event_log == "on" else EVENT_LOG_HEADER)
    for level in levels:
        (print_level if args.event_log == "on" else print_event_log_level)(level)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(
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
    print(f"\nwrote {results.relative_to(ROOT)}")


HEADER = (
    f"{'streams':>8} {'mode':>7} {'counted':>8} {'ok %':>6} {'+TTFT p50':>10} {'+TTFT p99':>10} "
    f"{'+gap p50':>9} {'+gap p99':>9} {'PG conns':>8}"
)


def print_level(level: dict) -> None:
    print(
        f"{level['concurrency']:>8} {level['mode']:>7} {level['bytchat']['streams']:>8} "
        f"{level['success_rate'] * 100:>6.1f} {level['added_ttft_p50_ms']:>10.2f} "
        f"{level['added_ttft_p99_ms']:>10.2f} {level['added_gap_p50_ms']:>9.2f} "
        f"{level['added_gap_p99_ms']:>9.2f} {level['postgres_connections_peak']:>8}",
        flush=True,
    )


if __name__ == "__main__":
    main()

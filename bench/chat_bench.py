"""Streaming chat benchmark: what Bytchat adds on top of the model's own stream, side by
side with two baselines measured in the same run.

    DEBUG=true .venv/bin/python bench/chat_bench.py          # 1, 20, 200 and 500 streams
    DEBUG=true .venv/bin/python bench/chat_bench.py --concurrency 1 20 --modes steady

A mock OpenAI-compatible server (bench/mock_llm.py) streams tokens with a fixed time to
first token and delay between tokens. Each system then serves the same streams, one
after the other, each as uvicorn with `--workers` processes (WEB_CONCURRENCY, 2 in
docker-compose):
- direct: the mock itself; every other figure is "added" to its own;
- relay: the minimal relay (bench/baselines/relay.py), a bare ASGI app with one reused
  `httpx.AsyncClient`: the least CPU a proxy of this stream can spend;
- django: Django with the project's settings and middleware and one view that streams
  through the project's SDK path (`chat.llm`, the SSE helpers), with no database and no
  authentication (bench/baselines/django_settings.py);
- bytchat: Bytchat as in production, PostgreSQL with its pool, Redis. Its bot's only model
  is the mock; each stream comes from its own user, whose plan has every limit set (high
  enough not to trip), so every check runs;
- no-log (only when asked, `--systems ... no-log`): the same Bytchat with CHAT_EVENT_LOG=off
  (each model call tied to its connection, no stop and no resume), to see what the event
  log (Redis Streams) costs: compare its added TTFT and chunk gap with bytchat's.
- knowledge (only when asked): the same Bytchat, asked about a second bot that has
  `--knowledge-chunks` chunks of knowledge (100k by default; synthetic text and vectors,
  made as bench/retrieval_bench.py makes its latency bot), so every turn searches them
  (hybrid: the question embedded with the local model, every chunk's vector compared):
  retrieval's share of the time to first token is its added TTFT less bytchat's.
The baselines are mounted only by their own settings, outside the production URLs.

    DEBUG=true .venv/bin/python bench/chat_bench.py --systems bytchat no-log --concurrency 1 --modes steady
    DEBUG=true .venv/bin/python bench/chat_bench.py --systems django bytchat knowledge --concurrency 1 20 --modes steady

Load shapes (`MODES`; add one there):
- steady: N streams open at all times, as `wrk -c N` holds N connections. N clients
  each chat in a loop, a new question as soon as the last answer ends, continuing their
  conversation; their first questions are spread over one answer's length. Streams that
  start in the first `--warmup` seconds are not counted, nor those that start after
  `--duration` seconds more (longer if that would count fewer than `--min-streams`).
- burst: N streams started in the same instant, each a new conversation.
At N = 1 the two are the same: one stream after another.

Reported per system: the added time to first token and added delay between chunks (at
p50 and p99), the success rate, CPU per answer (the server's processes from /proc, plus
the PostgreSQL backends of the benchmark database) and the most PostgreSQL connections
seen. Then the targets of issue 16 as ratios of this run (`targets`). The client is a few
lines of asyncio that read the chunked body and look for event markers without parsing
JSON, so that the harness takes little of the CPU it measures.
Writes bench/results/chat.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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


def server_env(database_url: str, redis_url: str, mock_url: str) -> dict[str, str]:
    """Bytchat's environment in the benchmarks: production settings on loopback, the mock
    as the operator's OpenAI-compatible server, throttles out of the way."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OPENAI_COMPATIBLE_API_KEY": "bench",
        "OPENAI_COMPATIBLE_BASE_URL": f"{mock_url}/v1",
        "LOG_LEVEL": "WARNING",
        "THROTTLE_USER": "1000000/minute",
        "DJANGO_SETTINGS_MODULE": "bytchat.settings",
    }


def prepare_django(env: dict[str, str], users: int, knowledge_chunks: int) -> tuple[list[str], str, str]:
    """Migrate the benchmark database; create users and a bot whose model is the mock, and
    a second one with `knowledge_chunks` chunks of knowledge (none: 0)."""
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
    learned = Bot.objects.create(
        owner=None, is_public=True, name_en="Benchmark bot, knowledge", language="en"
    )
    learned.model_configs.create(provider="openai_compatible", model_id="mock-model")
    if knowledge_chunks:
        from bench.retrieval_bench import synthetic_knowledge

        synthetic_knowledge(learned, knowledge_chunks, seed=20260101)
    tokens = [str(AccessToken.for_user(person)) for person in people]
    from django.db import connections

    connections.close_all()
    return tokens, str(bot.pk), str(learned.pk)


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
                if event.startswith(b"id: "):  # Bytchat numbers its events (resumable)
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


# --- CPU: web processes from /proc, PostgreSQL backends of the benchmark database --------
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process, 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn's worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


class DatabaseWatch:
    """While a level runs against one system: the most connections to the benchmark
    database seen at once, and the CPU its backends spent (each backend's CPU from
    /proc, sampled every 50 ms; a backend that closes between samples loses < 50 ms)."""

    def __init__(self, admin_url: str, name: str) -> None:
        self.admin_url, self.name = admin_url, name
        self.peak = 0
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop = asyncio.Event()

    async def _sample(self, connection) -> None:
        cursor = await connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
            (self.name,),
        )
        pids = [row[0] for row in await cursor.fetchall()]
        self.peak = max(self.peak, len(pids))
        for pid in pids:
            cpu = process_cpu_seconds(pid)
            self.first.setdefault(pid, cpu)
            self.last[pid] = max(cpu, self.last.get(pid, 0.0))

    async def run(self) -> None:
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.admin_url, autocommit=True) as connection:
            while not self.stop.is_set():
                await self._sample(connection)
                await asyncio.sleep(0.05)
            await self._sample(connection)

    @property
    def cpu_seconds(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


# --- Systems under test: the mock itself, the two baselines, Bytchat ----------------------
DIRECT_BODY = {"model": "mock-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


@dataclass
class System:
    """One server that streams answers, and how to ask it. `process` is None for the mock,
    which every other system calls (its figures are what the others add to)."""

    name: str
    target: Target
    request: Callable[[int, int, str | None], tuple[dict, dict[str, str]]]
    process: subprocess.Popen | None = None
    health: str = "/healthz"

    def stream(self, client: int, number: int, conversation: str | None) -> Awaitable[dict]:
        body, headers = self.request(client, number, conversation)
        return one_stream(self.target, body, headers)

    def cpu_seconds(self) -> float:
        if self.process is None:
            return 0.0
        return sum(process_cpu_seconds(pid) for pid in process_tree(self.process.pid))


def bytchat_request(tokens: list[str], bot_id: str):
    def request(client: int, number: int, conversation: str | None) -> tuple[dict, dict[str, str]]:
        body = {"bot": bot_id, "message": f"Question {number} from {client}: what is new?"}
        if conversation:
            body["conversation"] = conversation
        return body, {"Authorization": f"Bearer {tokens[client]}"}

    return request


def baseline_request(client: int, number: int, conversation: str | None) -> tuple[dict, dict[str, str]]:
    return {"message": "hi"}, {}


def uvicorn(app: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--workers",
            str(workers),
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
    )


# --- Load shapes ---------------------------------------------------------------------------
async def burst(system: System, concurrency: int, **_: float) -> tuple[list[dict], int]:
    """N streams started in the same instant, each a new conversation."""
    results = await asyncio.gather(*(system.stream(client, 0, None) for client in range(concurrency)))
    return results, sum(1 for row in results if row.get("ok"))


async def steady(
    system: System, concurrency: int, *, warmup: float, duration: float, answer_s: float
) -> tuple[list[dict], int]:
    """N streams open at all times; returns the counted streams and how many answers
    completed in all (the CPU is shared by all of them)."""
    loop = asyncio.get_running_loop()
    counted_from = loop.time() + warmup
    stop_at = counted_from + duration
    results: list[dict] = []
    completed = 0

    async def client(number: int) -> None:
        nonlocal completed
        await asyncio.sleep(answer_s * number / concurrency)
        conversation = None
        turn = 0
        while loop.time() < stop_at:
            started = loop.time()
            result = await system.stream(number, turn, conversation)
            conversation = result.get("conversation") or conversation
            turn += 1
            completed += bool(result.get("ok"))
            if started >= counted_from:
                results.append(result)
            if not result.get("ok"):
                await asyncio.sleep(0.1)

    await asyncio.gather(*(client(number) for number in range(concurrency)))
    return results, completed


# A load shape: (system, concurrency, **steady settings) -> (counted streams, answers completed).
MODES: dict[str, Callable[..., Awaitable[tuple[list[dict], int]]]] = {"steady": steady, "burst": burst}


def summary(rows: list[dict]) -> dict:
    good = [row for row in rows if row.get("ok")]
    ttfts = [row["ttft"] * 1000 for row in good]
    gaps = [gap * 1000 for row in good for gap in row["gaps"]]
    return {
        "streams": len(rows),
        "succeeded": len(good),
        "success_rate": len(good) / max(1, len(rows)),
        "ttft_p50_ms": percentile(ttfts, 0.5),
        "ttft_p99_ms": percentile(ttfts, 0.99),
        "gap_p50_ms": percentile(gaps, 0.5),
        "gap_p99_ms": percentile(gaps, 0.99),
        "failures": [row for row in rows if not row.get("ok")][:3],
    }


async def measure(system: System, concurrency: int, mode: str, *, admin_url: str, db: str, **shape) -> dict:
    watch = DatabaseWatch(admin_url, db)
    watcher = asyncio.create_task(watch.run())
    # The client's own garbage collections (up to 230 ms for a full one, with every row
    # so far to walk) would show as latency of whichever system it measures: what is
    # alive now is frozen out of their way, and none runs during the load (a run leaves
    # a few MB of cycles, freed once it is over).
    gc.collect()
    gc.freeze()
    gc.disable()
    cpu_before = system.cpu_seconds()
    try:
        rows, completed = await MODES[mode](system, concurrency, **shape)
    finally:
        gc.enable()
    web_cpu = system.cpu_seconds() - cpu_before
    watch.stop.set()
    await watcher
    figures = summary(rows)
    figures.update(
        answers=completed,
        cpu_web_ms_per_answer=web_cpu * 1000 / max(1, completed),
        cpu_postgres_ms_per_answer=watch.cpu_seconds * 1000 / max(1, completed),
        postgres_connections_peak=watch.peak,
    )
    figures["cpu_ms_per_answer"] = figures["cpu_web_ms_per_answer"] + figures["cpu_postgres_ms_per_answer"]
    return figures


async def run_level(concurrency: int, mode: str, *, systems: list[System], **common) -> dict:
    """One concurrency level against every system, one after the other; the first system
    is the mock, whose times the others' are "added" to."""
    level: dict = {"concurrency": concurrency, "mode": mode, "systems": {}}
    direct = None
    for system in systems:
        figures = await measure(system, concurrency, mode, **common)
        if direct is None:
            direct = figures
        else:
            for name in ("ttft_p50_ms", "ttft_p99_ms", "gap_p50_ms", "gap_p99_ms"):
                figures[f"added_{name}"] = figures[name] - direct[name]
        level["systems"][system.name] = figures
    return level


# --- The targets, as ratios of figures measured in the same run ------------------
def targets(levels: list[dict], *, system: str = "bytchat") -> list[dict]:
    """Each target of the lean-hot-path issue that the run measured: the figure, the
    baseline it is compared with, the limit and whether it is met."""

    def find(concurrency: int) -> dict | None:
        for level in levels:
            if level["concurrency"] == concurrency and level["mode"] == "steady":
                return level["systems"]
        return None

    checks = []
    one, twenty = find(1), find(20)
    if one and "django" in one and system in one:
        value, base = one[system]["added_ttft_p50_ms"], one["django"]["added_ttft_p50_ms"]
        checks.append(
            {
                "target": "added TTFT p50, 1 stream ≤ Django baseline + 2 ms",
                "value": value,
                "baseline": base,
                "limit": base + 2,
                "excess_ms": value - base,
                "met": value <= base + 2,
            }
        )
    if twenty and "django" in twenty and system in twenty:
        value, base = twenty[system]["added_ttft_p99_ms"], twenty["django"]["added_ttft_p99_ms"]
        checks.append(
            {
                "target": "added TTFT p99, 20 streams ≤ 2x Django baseline",
                "value": value,
                "baseline": base,
                "limit": 2 * base,
                "ratio": value / base if base > 0 else float("inf"),
                "met": value <= 2 * base,
            }
        )
    if twenty and "relay" in twenty and system in twenty:
        value, base = twenty[system]["cpu_ms_per_answer"], twenty["relay"]["cpu_ms_per_answer"]
        checks.append(
            {
                "target": "CPU per answer, 20 streams, web + PostgreSQL ≤ 2x minimal relay",
                "value": value,
                "baseline": base,
                "limit": 2 * base,
                "ratio": value / base if base > 0 else float("inf"),
                "met": value <= 2 * base,
            }
        )
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 20, 200, 500])
    parser.add_argument("--modes", nargs="+", choices=sorted(MODES), default=["steady", "burst"])
    parser.add_argument(
        "--systems",
        nargs="+",
        choices=["relay", "django", "bytchat", "no-log", "knowledge"],
        default=["relay", "django", "bytchat"],
        help="what to measure besides the mock itself",
    )
    parser.add_argument("--duration", type=float, default=20, help="seconds of steady streaming counted")
    parser.add_argument(
        "--min-streams", type=int, default=60, help="count steady streams for longer if fewer than this"
    )
    parser.add_argument("--warmup", type=float, default=5, help="seconds of steady streaming not counted")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn processes of each server")
    parser.add_argument("--ttft-ms", type=float, default=100)
    parser.add_argument("--token-delay-ms", type=float, default=20)
    parser.add_argument("--tokens", type=int, default=30)
    parser.add_argument(
        "--knowledge-chunks", type=int, default=100_000, help="the knowledge system's bot's chunks"
    )
    parser.add_argument("--pool-size", type=int, default=10, help="DB_POOL_MAX_SIZE of each web process")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--database", default="bytchat_bench_chat", help="created (and replaced) for the run")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    db = args.database
    admin_url = f"{args.postgres}/postgres"
    database_url = f"{args.postgres}/{db}"
    setup_database(database_url, admin_url, db)
    mock_port = free_port()
    mock = f"http://127.0.0.1:{mock_port}"
    env = {**server_env(database_url, args.redis, mock), "DB_POOL_MAX_SIZE": str(args.pool_size)}
    knowledge = args.knowledge_chunks if "knowledge" in args.systems else 0
    tokens, bot_id, knowledge_bot_id = prepare_django(env, max(*args.concurrency, 20), knowledge)
    mock_process = subprocess.Popen(
        [
            sys.executable,
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
    )
    systems = [System("direct", mock_target(mock), lambda *_: (DIRECT_BODY, {}), health="/")]
    for name in args.systems:
        port = free_port()
        if name == "relay":
            process = uvicorn(
                "bench.baselines.relay:app", port, args.workers, {"BENCH_UPSTREAM": f"{mock}/v1"}
            )
        elif name == "django":
            process = uvicorn(
                "bytchat.asgi:application",
                port,
                args.workers,
                {**env, "DJANGO_SETTINGS_MODULE": "bench.baselines.django_settings"},
            )
        elif name == "no-log":
            process = uvicorn(
                "bytchat.asgi:application", port, args.workers, {**env, "CHAT_EVENT_LOG": "off"}
            )
        else:
            process = uvicorn("bytchat.asgi:application", port, args.workers, env)
        request = (
            bytchat_request(tokens, knowledge_bot_id if name == "knowledge" else bot_id)
            if name in ("bytchat", "no-log", "knowledge")
            else baseline_request
        )
        systems.append(System(name, bytchat_target(f"http://127.0.0.1:{port}"), request, process))
    answer_s = (args.ttft_ms + args.tokens * args.token_delay_ms) / 1000
    common = {"systems": systems, "admin_url": admin_url, "db": db}
    levels = []
    try:
        for system in systems:
            port = system.target.port
            asyncio.run(wait_until_up(f"http://127.0.0.1:{port}{system.health}"))
        # Warm up every web process: imports, SDK clients, connection pools.
        asyncio.run(run_level(20, "burst", **common))
        print(HEADER)
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
                print_level(levels[-1])
    finally:
        for process in [mock_process] + [system.process for system in systems if system.process]:
            process.terminate()
        for process in [mock_process] + [system.process for system in systems if system.process]:
            process.wait(timeout=30)

    print(
        f"\nmock: TTFT {args.ttft_ms:g} ms, {args.tokens} tokens every {args.token_delay_ms:g} ms; "
        f"{args.workers} web processes per server, pool of {args.pool_size} each"
    )
    print(HEADER)
    for level in levels:
        print_level(level)
    checks = targets(levels)
    if checks:
        print("\ntargets (ratios of this run):")
        for check in checks:
            print(
                f"  {'met    ' if check['met'] else 'NOT MET'}  {check['target']}: "
                f"{check['value']:.2f} against {check['baseline']:.2f} (limit {check['limit']:.2f})"
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "settings": vars(args),
                "levels": levels,
                "targets": checks,
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nwrote {args.output}")


HEADER = (
    f"{'streams':>7} {'mode':>6} {'system':>8} {'counted':>7} {'ok %':>6} {'+TTFT p50':>9} "
    f"{'+TTFT p99':>9} {'+gap p50':>8} {'+gap p99':>8} {'CPU ms/answer':>13} {'of it PG':>8} {'PG conns':>8}"
)


def print_level(level: dict) -> None:
    for name, figures in level["systems"].items():
        if name == "direct":
            continue
        print(
            f"{level['concurrency']:>7} {level['mode']:>6} {name:>8} {figures['streams']:>7} "
            f"{figures['success_rate'] * 100:>6.1f} {figures['added_ttft_p50_ms']:>9.2f} "
            f"{figures['added_ttft_p99_ms']:>9.2f} {figures['added_gap_p50_ms']:>8.2f} "
            f"{figures['added_gap_p99_ms']:>8.2f} {figures['cpu_ms_per_answer']:>13.2f} "
            f"{figures['cpu_postgres_ms_per_answer']:>8.2f} {figures['postgres_connections_peak']:>8}",
            flush=True,
        )


if __name__ == "__main__":
    main()

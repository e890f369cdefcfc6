"""Request threads: what a request's sync steps cost in threads, Django's way and Bytchat's.

    DEBUG=true .venv/bin/python bench/threads_bench.py

Under ASGI, Django gives each request a thread of its own for its sync code (a sync view,
the request signals' receivers) and starts one more to join it at the end. Bytchat's
handler (`bytchat.middleware.ASGIHandler`, `bytchat.threads`) lends each request a reused
thread instead. This sends the same requests (`GET /healthz`, a sync view: three thread
hops a request) straight into the ASGI application, in this process, through Django's
`__call__` and through Bytchat's, alternating rounds so that both see the same machine,
at 1 and at 20 requests at a time. Reported: requests per second, CPU per request (every
thread of this process) and OS threads started per request.
Writes bench/results/threads.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "threads.json"


def _scope() -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/healthz",
        "raw_path": b"/healthz",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }


async def _request(call) -> int:
    status = 0

    incoming = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if incoming:
            return incoming.pop()
        await asyncio.Event().wait()  # the client stays until the response ends

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await call(_scope(), receive, send)
    return status


class _ThreadCounter:
    """OS threads started in this process while it is on."""

    def __init__(self) -> None:
        self.started = 0
        self._original = threading.Thread.start

    def __enter__(self):
        counter, original = self, self._original

        def start(thread):
            counter.started += 1
            return original(thread)

        threading.Thread.start = start
        return self

    def __exit__(self, *exc_info) -> None:
        threading.Thread.start = self._original


async def _round(call, requests: int, concurrency: int) -> dict:
    queue = iter(range(requests))
    statuses: list[int] = []

    async def worker():
        for _ in queue:
            statuses.append(await _request(call))

    with _ThreadCounter() as threads:
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert statuses == [200] * requests, set(statuses)
    return {
        "requests_per_second": requests / wall,
        "cpu_ms_per_request": cpu * 1000 / requests,
        "threads_per_request": threads.started / requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per round")
    parser.add_argument("--rounds", type=int, default=5, help="per handler and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bytchat.settings")
    import django

    django.setup(set_prefix=False)
    from django.core.handlers.asgi import ASGIHandler as DjangoHandler

    from bytchat.middleware import ASGIHandler

    app = ASGIHandler()
    handlers = {
        "django": lambda scope, receive, send: DjangoHandler.__call__(app, scope, receive, send),
        "bytchat": app,
    }

    async def run() -> dict:
        results: dict = {}
        for concurrency in args.concurrency:
            for call in handlers.values():  # warm up: imports, first threads
                await _round(call, 200, concurrency)
            rounds: dict[str, list[dict]] = {name: [] for name in handlers}
            for _ in range(args.rounds):
                for name, call in handlers.items():
                    rounds[name].append(await _round(call, args.requests, concurrency))
            results[str(concurrency)] = {
                name: {
                    key: round(statistics.median(item[key] for item in items), 4)
                    for key in ("requests_per_second", "cpu_ms_per_request", "threads_per_request")
                }
                for name, items in rounds.items()
            }
        return results

    results = asyncio.run(run())
    print(f"{args.rounds} rounds of {args.requests} GET /healthz per handler, medians")
    print(f"{'at once':>7} {'handler':>8} {'req/s':>8} {'CPU ms/req':>10} {'threads/req':>11}")
    for concurrency, by_handler in results.items():
        for name, figures in by_handler.items():
            print(
                f"{concurrency:>7} {name:>8} {figures['requests_per_second']:>8.0f} "
                f"{figures['cpu_ms_per_request']:>10.3f} {figures['threads_per_request']:>11.2f}"
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "requests_per_round": args.requests,
                "rounds": args.rounds,
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

"""OpenAI-compatible endpoint benchmark: the time to first token Bytchat adds on
`/openai/v1/chat/completions` against the native `/api/v1/chat`, on the same mock.

    DEBUG=true .venv/bin/python bench/openai_bench.py
    DEBUG=true .venv/bin/python bench/openai_bench.py --requests 200 --concurrency 1 10

The set-up is bench/chat_bench.py's (its helpers are reused): a mock OpenAI-compatible
model (bench/mock_llm.py) with a fixed time to first token, Bytchat on uvicorn with
PostgreSQL and Redis, a bot whose only model is the mock, users whose plan has every
limit set (none reached). Each round sends one streamed question to each of three
targets, in turn: the mock directly (the baseline), the native chat endpoint (a JWT,
a new conversation), and the OpenAI-compatible endpoint (an API key with its own
requests-per-minute cap, stateless). The time to first token is from sending the request
to the first byte of answer text; Bytchat's added TTFT is a target's minus the mock's.

Target: the OpenAI endpoint's added TTFT (p50) is no worse than the native endpoint's
(ratio <= 1.10, the noise of a shared machine). Writes bench/results/openai.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "openai.json"
sys.path.insert(0, str(ROOT))

from bench.chat_bench import (  # noqa: E402
    free_port,
    percentile,
    prepare_django,
    server_env,
    setup_database,
    wait_until_up,
)

QUESTION = "How long do refunds take?"


async def ttft(client: httpx.AsyncClient, url: str, body: dict, headers: dict, marker: bytes) -> float:
    """Milliseconds from sending the request to the first chunk holding `marker` (text)."""
    started = time.perf_counter()
    async with client.stream("POST", url, json=body, headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {response.status_code} {(await response.aread())[:200]!r}")
        first = None
        buffer = b""
        async for chunk in response.aiter_raw():
            buffer += chunk
            if first is None and marker in buffer:
                first = (time.perf_counter() - started) * 1000
        if first is None:
            raise RuntimeError(f"{url}: no text in {buffer[:300]!r}")
        return first


async def measure(args, mock: str, web: str, tokens: list[str], secret: str, bot_id: str) -> dict:
    targets = {
        "mock": (
            f"{mock}/v1/chat/completions",
            lambda n: {"model": "mock", "stream": True, "messages": [{"role": "user", "content": QUESTION}]},
            lambda n: {},
            b'"content":"',
        ),
        "native": (
            f"{web}/api/v1/chat",
            lambda n: {"bot": bot_id, "message": QUESTION},
            lambda n: {"Authorization": f"Bearer {tokens[n % len(tokens)]}"},
            b'"type":"delta"',
        ),
        "openai": (
            f"{web}/openai/v1/chat/completions",
            lambda n: {"model": bot_id, "stream": True, "messages": [{"role": "user", "content": QUESTION}]},
            lambda n: {"Authorization": f"Bearer {secret}"},
            b'"content":"',
        ),
    }
    # The first openai chunk carries `"content":""` with the role: the text marker must
    # not match it, so the openai target looks for a non-empty content.
    targets["openai"] = (*targets["openai"][:3], b'"content":"t')
    targets["mock"] = (*targets["mock"][:3], b'"content": "t')  # the mock's JSON has spaces
    results: dict = {}
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=1000)) as client:
        for concurrency in args.concurrency:
            samples: dict[str, list[float]] = {name: [] for name in targets}
            rounds = max(1, args.requests // concurrency)

            async def worker(number: int, rounds: int, samples: dict[str, list[float]]) -> None:
                for step in range(rounds):
                    order = list(targets)
                    # Rotate which target goes first, so none always runs on a warm path.
                    order = order[step % 3 :] + order[: step % 3]
                    for name in order:
                        url, body, headers, marker = targets[name]
                        samples[name].append(await ttft(client, url, body(number), headers(number), marker))

            # Warm-up (not counted): imports, SDK clients, connection pools.
            for url, body, headers, marker in targets.values():
                for _ in range(5):
                    await ttft(client, url, body(0), headers(0), marker)
            await asyncio.gather(*(worker(number, rounds, samples) for number in range(concurrency)))
            level = {}
            for name, values in samples.items():
                level[name] = {
                    "count": len(values),
                    "p50_ms": round(statistics.median(values), 2),
                    "p95_ms": round(percentile(values, 0.95), 2),
                }
            for name in ("native", "openai"):
                level[name]["added_p50_ms"] = round(level[name]["p50_ms"] - level["mock"]["p50_ms"], 2)
                level[name]["added_p95_ms"] = round(level[name]["p95_ms"] - level["mock"]["p95_ms"], 2)
            native_added = max(level["native"]["added_p50_ms"], 0.01)
            level["ratio_added_p50"] = round(level["openai"]["added_p50_ms"] / native_added, 3)
            results[str(concurrency)] = level
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--requests", type=int, default=100, help="per target and concurrency level")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn processes (WEB_CONCURRENCY)")
    parser.add_argument("--ttft-ms", type=float, default=100)
    parser.add_argument("--token-delay-ms", type=float, default=10)
    parser.add_argument("--tokens", type=int, default=10)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    args = parser.parse_args()

    db = "bytchat_bench_openai"
    database_url = f"{args.postgres}/{db}"
    setup_database(database_url, f"{args.postgres}/postgres", db)
    mock_port, web_port = free_port(), free_port()
    mock, web = f"http://127.0.0.1:{mock_port}", f"http://127.0.0.1:{web_port}"
    env = server_env(database_url, args.redis, mock)
    tokens, bot_id = prepare_django(env, max(args.concurrency))
    from accounts.models import User
    from chat.services.api_keys import api_key_create

    owner = User.objects.order_by("email").first()
    # A per-key cap (high, never reached) so that the key's own check runs too.
    secret = api_key_create(user=owner, name="bench", requests_per_minute=100_000).secret
    from django.db import connections

    connections.close_all()
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
            ],
            cwd=ROOT,
            env={**os.environ, **env},
        ),
    ]
    try:
        asyncio.run(wait_until_up(f"{mock}/"))
        asyncio.run(wait_until_up(f"{web}/healthz"))
        results = asyncio.run(measure(args, mock, web, tokens, secret, bot_id))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)

    print(
        f"\nmock: TTFT {args.ttft_ms:g} ms; {args.workers} web processes; {args.requests} requests a target"
    )
    print(f"{'streams':>8} {'target':>8} {'TTFT p50':>9} {'TTFT p95':>9} {'+TTFT p50':>10} {'+TTFT p95':>10}")
    for concurrency, level in results.items():
        for name in ("mock", "native", "openai"):
            row = level[name]
            added = (
                f"{row['added_p50_ms']:>10.1f} {row['added_p95_ms']:>10.1f}"
                if name != "mock"
                else f"{'—':>10} {'—':>10}"
            )
            print(f"{concurrency:>8} {name:>8} {row['p50_ms']:>9.1f} {row['p95_ms']:>9.1f} {added}")
        verdict = "ok" if level["ratio_added_p50"] <= 1.10 else "WORSE"
        print(
            f"{'':>8} openai/native added TTFT p50: {level['ratio_added_p50']:.2f} ({verdict}, target <= 1.10)"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "settings": vars(args),
                "levels": results,
            },
            indent=2,
        )
    )
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

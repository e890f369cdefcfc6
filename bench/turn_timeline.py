"""Where one streamed turn's time goes before its first token: a timeline, to the tenth
of a millisecond, that the full chat benchmark's noise cannot give.

    DEBUG=true .venv/bin/python bench/turn_timeline.py            # 200 follow-up turns
    DEBUG=true .venv/bin/python bench/turn_timeline.py --first-turns     # each turn a new conversation

One client asks Bytchat (uvicorn, one process, PostgreSQL and Redis as in production)
one question after another in one conversation (`--first-turns`: each in a new one), as
`bench/chat_bench.py` does at 1 stream. The mock model (`bench/mock_llm.py`, in its own
process) notes when each request reaches it and when it sends its first text, on the
clock every process shares (CLOCK_MONOTONIC), so the time Bytchat adds splits into
what happens before the model is asked and what happens after its first text. Inside,
named steps of the turn are timed by wrapping them (`STEPS`): the median of each step's
start and end, counted from when the client connects.

Prints the timeline and writes bench/results/turn-timeline.json. Wrapping costs about a
microsecond a step; the figures are medians over `--turns` (after `--warmup`).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "turn-timeline.json"
sys.path.insert(0, str(ROOT))

# (module, function, label): each is timed where it is looked up at call time.
STEPS = [
    ("bytchat.api.async_views", "parse_json_after", "body parsed and validated"),
    ("chat.api.views", "_prepare_turn", "the turn's database step (a thread)"),
    ("chat.api.views", "request_user", "authentication (JWT, cached user)"),
    ("chat.services.engine", "chat_prepare", "limits checked, question stored"),
    ("bots.selectors", "bot_get_for_chat", "bot and models (cached)"),
    ("chat.services.limits", "message_rate_check", "rate limit (Redis)"),
    # The code before issue 16's step 1 named the follow-up's round trip `_follow_up_together`.
    ("chat.services.engine", "_follow_up_together", "follow-up: the question's round trip"),
    ("chat.services.engine", "_follow_up", "follow-up: the limits read (streamed)"),
    ("chat.services.engine", "turn_write", "follow-up: the question's writes"),
    ("chat.services.engine", "_start_turn", "the question's transaction"),
    ("chat.services.answers", "answer_start", "answer started"),
]


# --- the mock model, in its own process ---------------------------------------------------
def mock_app(log_path: str, *, ttft_ms: float, token_delay_ms: float, tokens: int):
    from bench.mock_llm import make_app

    inner = make_app(ttft_ms=ttft_ms, token_delay_ms=token_delay_ms, tokens=tokens)
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the process's life

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return await inner(scope, receive, send)
        arrived = time.monotonic()
        first = None

        async def timed_send(message):
            nonlocal first
            if first is None and b'"content"' in message.get("body", b""):
                first = time.monotonic()
            await send(message)

        await inner(scope, receive, timed_send)
        log.write(json.dumps({"arrived": arrived, "first_text": first}) + "\n")

    return app


def run_mock(port: int, log_path: str, ttft_ms: float, tokens: int) -> None:
    import uvicorn

    app = mock_app(log_path, ttft_ms=ttft_ms, token_delay_ms=20, tokens=tokens)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


# --- timing the server's steps ------------------------------------------------------------
class Marks:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def note(self, name: str) -> None:
        self.at.setdefault(name, time.monotonic())


def wrap(marks: Marks, module_name: str, attribute: str, label: str) -> bool:
    module = importlib.import_module(module_name)
    function = getattr(module, attribute, None)
    if function is None:
        return False
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def timed(*args, **kwargs):
            marks.note(label + " >")
            try:
                return await function(*args, **kwargs)
            finally:
                marks.note(label + " <")
    else:

        @functools.wraps(function)
        def timed(*args, **kwargs):
            marks.note(label + " >")
            try:
                return function(*args, **kwargs)
            finally:
                marks.note(label + " <")

    setattr(module, attribute, timed)
    return True


def traced_app(app, marks: Marks, log_path: str):
    """The ASGI app, noting when a request reaches it, when its response starts and when
    its first text goes out; each request's marks are written to `log_path` at its end
    (one request at a time)."""
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the process's life

    async def traced(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        marks.at.clear()
        marks.note("request reaches the ASGI app")

        async def timed_send(message):
            if message["type"] == "http.response.start":
                marks.note("response headers sent")
            elif b'"delta"' in message.get("body", b""):
                marks.note("first text sent to the client")
            await send(message)

        try:
            return await app(scope, receive, timed_send)
        finally:
            log.write(json.dumps(marks.at) + "\n")

    return traced


def run_server(port: int, log_path: str) -> None:
    """Bytchat as one uvicorn process, its steps timed (`STEPS`)."""
    import django

    django.setup()
    marks = Marks()
    for module, name, label in STEPS:
        wrap(marks, module, name, label)
    import uvicorn

    import bytchat.asgi

    uvicorn.run(
        traced_app(bytchat.asgi.application, marks, log_path),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--first-turns", action="store_true", help="each question starts a conversation")
    parser.add_argument("--ttft-ms", type=float, default=100)
    parser.add_argument("--tokens", type=int, default=5, help="the mock's tokens an answer (20 ms apart)")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--database", default="bytchat_bench_timeline")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--mock", nargs=2, metavar=("PORT", "LOG"), help=argparse.SUPPRESS)
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mock:
        run_mock(int(args.mock[0]), args.mock[1], args.ttft_ms, args.tokens)
        return
    if args.serve:
        run_server(int(args.serve[0]), args.serve[1])
        return

    from bench import chat_bench

    db = args.database
    chat_bench.setup_database(f"{args.postgres}/{db}", f"{args.postgres}/postgres", db)
    mock_port = chat_bench.free_port()
    mock = f"http://127.0.0.1:{mock_port}"
    env = chat_bench.server_env(f"{args.postgres}/{db}", args.redis, mock)
    tokens, bot_id, _ = chat_bench.prepare_django(env, 1, 0)
    log_path = str(args.output.with_suffix(".mock.log"))
    Path(log_path).write_text("")
    mock_process = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--mock",
            str(mock_port),
            log_path,
            "--ttft-ms",
            str(args.ttft_ms),
            "--tokens",
            str(args.tokens),
        ],
        cwd=ROOT,
    )
    marks_path = str(args.output.with_suffix(".server.log"))
    Path(marks_path).write_text("")
    port = chat_bench.free_port()
    server_process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), marks_path], cwd=ROOT, env={**os.environ, **env}
    )
    rows: list[dict[str, float]] = []
    try:
        asyncio.run(chat_bench.wait_until_up(f"http://127.0.0.1:{port}/healthz"))
        asyncio.run(chat_bench.wait_until_up(f"{mock}/"))
        target = chat_bench.bytchat_target(f"http://127.0.0.1:{port}")
        request = chat_bench.bytchat_request(tokens, bot_id)

        async def ask_all() -> None:
            conversation = None
            for number in range(args.warmup + args.turns):
                body, headers = request(0, number, None if args.first_turns else conversation)
                started = time.monotonic()
                result = await chat_bench.one_stream(target, body, headers)
                if not result.get("ok"):
                    raise SystemExit(f"turn {number} failed: {result}")
                conversation = result.get("conversation") or conversation
                model = json.loads(Path(log_path).read_text().splitlines()[-1])
                await asyncio.sleep(0.02)  # the server writes its marks once the response ends
                marks = json.loads(Path(marks_path).read_text().splitlines()[-1])
                row = {name: (at - started) * 1000 for name, at in marks.items()}
                row["the model's request arrives"] = (model["arrived"] - started) * 1000
                row["the model sends its first text"] = (model["first_text"] - started) * 1000
                row["first text read by the client"] = result["ttft"] * 1000
                if number >= args.warmup:
                    rows.append(row)
                await asyncio.sleep(0.02)

        asyncio.run(ask_all())
    finally:
        for process in (server_process, mock_process):
            process.terminate()
            process.wait()
        Path(log_path).unlink(missing_ok=True)
        Path(marks_path).unlink(missing_ok=True)

    medians = {
        name: statistics.median(row[name] for row in rows if name in row)
        for name in {name for row in rows for name in row}
    }
    first_text = medians["the model sends its first text"]
    arrived = medians["the model's request arrives"]
    ttft = medians["first text read by the client"]
    summary = {
        "before the model is asked (client connects → the model's request arrives)": arrived,
        "after the model's first text (→ the client reads it)": ttft - first_text,
        "added time to first token (the two together)": arrived + ttft - first_text,
    }
    heading = f"ms after the client connects (median of {len(rows)} turns)"
    print(f"{heading:<72} {'ms':>8}")
    for name, value in sorted(medians.items(), key=lambda item: item[1]):
        if value < first_text - 50 or name.startswith(("the model", "first text")):
            print(f"  {name:<70} {value:8.2f}")
    print()
    for name, value in summary.items():
        print(f"{name:<80} {value:6.2f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "turns": len(rows),
                "first_turns": args.first_turns,
                "mock_ttft_ms": args.ttft_ms,
                "git_commit": subprocess.run(
                    ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
                ).stdout.strip(),
                "steps_timed": [label for *_, label in STEPS],
                "median_ms_after_connect": dict(sorted(medians.items(), key=lambda item: item[1])),
                "summary_ms": summary,
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()

"""SSE relay: CPU per event from an answer's reader to the bytes of its stream.

    DEBUG=true .venv/bin/python bench/sse_bench.py

An answer's events reach its stream through its reader (`chat.services.answers`), which
waits for the producer's next event. The keep-alive comment (every 15 s of silence) was a
generic wrapper (`bytchat.api.sse.with_keepalive`): a task reading the source into a queue,
one more hand-off per event. The native stream now asks the reader (`idle=`), which keeps
one timer per stream. This relays the same events both ways in this process, alternating
rounds, and reports the CPU per event. Writes bench/results/sse.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "sse.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bytchat.settings")
    import django

    django.setup(set_prefix=False)
    from bytchat.api.sse import KEEPALIVE_COMMENT, KEEPALIVE_SECONDS, sse_event, with_keepalive
    from chat.services import answers

    async def produce(run) -> None:
        for number in range(1, args.events + 1):
            run.events.append((number, {"type": "delta", "content": "token "}))
            run.notify()
            await asyncio.sleep(0)  # the model's next chunk arrives on a later turn of the loop
        run.events.append((args.events + 1, {"type": "done"}))
        run.finished = True
        run.notify()

    async def generic(run):
        async def events():
            async for event_id, event in answers._read_local(run, after=0):
                yield sse_event(event, event_id=event_id)

        return with_keepalive(events())

    async def reader(run):
        async def events():
            async for item in answers._read_local(run, after=0, idle=KEEPALIVE_SECONDS):
                yield KEEPALIVE_COMMENT if item is answers.IDLE else sse_event(item[1], event_id=item[0])

        return events()

    async def relay(make) -> float:
        run = answers._Running(turn=None, answer_id="bench", loop=asyncio.get_running_loop())
        cpu = time.process_time()
        producer = asyncio.create_task(produce(run))
        chunks = 0
        async for _chunk in await make(run):
            chunks += 1
        await producer
        assert chunks == args.events + 1
        return (time.process_time() - cpu) * 1e6 / args.events

    async def run() -> dict:
        ways = {"generic keep-alive (before)": generic, "reader's keep-alive (now)": reader}
        figures: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, make in ways.items():
                figures[name].append(await relay(make))
        return {name: round(statistics.median(values), 2) for name, values in figures.items()}

    results = asyncio.run(run())
    print(f"{args.rounds} rounds of {args.events} events, median CPU µs per event")
    for name, value in results.items():
        print(f"{name:>28} {value:8.2f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "events_per_round": args.events,
                "rounds": args.rounds,
                "cpu_us_per_event": results,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

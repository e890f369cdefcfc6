"""The in-process benchmarks run, and write what they print (small runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(script: str, output: Path, *args: str) -> dict:
    env = {**os.environ, "DEBUG": "true"}
    env.pop("DATABASE_URL", None)  # neither touches the database
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--output", str(output), *args],
        check=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    return json.loads(output.read_text())


@pytest.mark.slow
def test_the_threads_benchmark_compares_djangos_handler_with_ours(tmp_path):
    figures = _run("threads_bench.py", tmp_path / "t.json", "--requests", "30", "--rounds", "1")
    for concurrency in ("1", "20"):
        ours, django = figures["results"][concurrency]["bytchat"], figures["results"][concurrency]["django"]
        assert ours["threads_per_request"] == 0 and django["threads_per_request"] == 2


@pytest.mark.slow
def test_the_sse_benchmark_relays_both_ways(tmp_path):
    figures = _run("sse_bench.py", tmp_path / "s.json", "--events", "200", "--rounds", "1")
    assert set(figures["cpu_us_per_event"]) == {"generic keep-alive (before)", "reader's keep-alive (now)"}

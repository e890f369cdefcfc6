"""What `bytchat.asgi` loads as a web process starts, before it freezes it out of the
garbage collector's way: imported later, at the first requests, those modules' objects
were walked by every full collection (100-150 ms pauses under load)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys
import bytchat.asgi
print(json.dumps({
    "openai": "openai" in sys.modules,
    "openai_provider": "chat.llm.openai_provider" in sys.modules,
    "gemini": "chat.llm.gemini_provider" in sys.modules,
    "jwt_backend": "rest_framework_simplejwt.backends" in sys.modules,
    "authentication": "accounts.authentication" in sys.modules,
    "frozen": gc.get_freeze_count(),
}))
"""


def _start(**env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "GEMINI_", "CHAT_PRELOAD"))
    }
    environment.update(DEBUG="true", **env)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def _loaded(**env: str) -> dict:
    started = _start(**env)
    assert started.returncode == 0, started.stderr
    return json.loads(started.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_web_process_loads_and_freezes_the_sdk_it_is_configured_for():
    loaded = _loaded(OPENAI_COMPATIBLE_BASE_URL="http://127.0.0.1:9/v1")
    assert loaded["openai"] and loaded["openai_provider"] and not loaded["gemini"]
    assert loaded["jwt_backend"] and loaded["authentication"]
    # openai alone is some 800 modules: far more is frozen than without it.
    without = _loaded(CHAT_PRELOAD_PROVIDERS="")
    assert not without["openai"] and without["jwt_backend"]
    assert loaded["frozen"] > without["frozen"] + 50_000


@pytest.mark.slow
def test_the_providers_to_load_can_be_named_and_a_wrong_name_stops_the_start():
    assert _loaded(CHAT_PRELOAD_PROVIDERS="gemini")["gemini"]
    started = _start(CHAT_PRELOAD_PROVIDERS="openai,gpt")
    assert started.returncode != 0
    assert "ImproperlyConfigured: CHAT_PRELOAD_PROVIDERS: Unknown provider 'gpt'." in started.stderr

#!/usr/bin/env python3
"""Set up and run Bytchat, or its tests, with nothing but Python 3.11 installed.

    python3 scripts/dev.py run     # virtualenv, requirements, migrate, demo data, ASGI server
    python3 scripts/dev.py test    # virtualenv, dev requirements, the whole test suite
    python3 scripts/dev.py lint    # ruff check and ruff format --check

Extra arguments after `test` go to pytest. Settings come from the environment (see
.env.example); unset, the embedded defaults apply (SQLite, in-process tasks, no Redis).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("BYTCHAT_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


def _run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([str(arg) for arg in args], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_environment(requirements: str) -> None:
    """Create the virtualenv once; reinstall requirements only when they change."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs on whatever python3 is
        sys.exit("Bytchat needs Python 3.11 or newer.")
    if not PYTHON.exists():
        _say(f"Creating the virtualenv in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    files = sorted(ROOT.glob("requirements*.txt"))
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in files)).hexdigest()
    stamp = VENV / f".stamp-{requirements}"
    if not stamp.exists() or stamp.read_text() != digest:
        _say(f"Installing {requirements}")
        _run(
            PYTHON,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            ROOT / requirements,
        )
        stamp.write_text(digest)


def command_run(extra: list[str]) -> None:
    os.environ.setdefault("DEBUG", "true")
    ensure_environment("requirements.txt")
    env = dict(os.environ)
    _say("Applying migrations")
    _run(PYTHON, "manage.py", "migrate", "--no-input", env=env)
    _say("Seeding demo data")
    _run(PYTHON, "manage.py", "seed_demo", env=env)
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    _say(f"Bytchat on http://{host}:{port}/  (API docs: http://{host}:{port}/docs/, admin: /admin/)")
    os.execve(
        str(PYTHON),
        [
            str(PYTHON),
            "-m",
            "uvicorn",
            "bytchat.asgi:application",
            "--lifespan",
            "off",
            "--host",
            host,
            "--port",
            port,
            *extra,
        ],
        env,
    )


def command_test(extra: list[str]) -> None:
    # Tests need a SECRET_KEY; DEBUG provides the development one. pytest-django still
    # runs every test with DEBUG off.
    os.environ.setdefault("DEBUG", "true")
    ensure_environment("requirements-dev.txt")
    result = subprocess.run([str(PYTHON), "-m", "pytest", *extra], cwd=ROOT)
    sys.exit(result.returncode)


def command_lint(extra: list[str]) -> None:
    ensure_environment("requirements-dev.txt")
    _run(BIN / "ruff", "check", ".")
    _run(BIN / "ruff", "format", "--check", ".")


def main() -> None:
    commands = {"run": command_run, "test": command_test, "lint": command_lint}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()

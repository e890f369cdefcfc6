"""The apps form layers, checked over every import statement of the production code.

    bytchat infrastructure  <-  accounts  <-  bots  <-  chat  <-  analytics  <-  bytchat surfaces

- A module imports only from its own layer and the layers to its left: `accounts` never
  imports `bots`, `chat` or `analytics`; `bots` never `chat` or `analytics`; `chat` never
  `analytics` (analytics only reads chat's records, `Run` included).
- The infrastructure in `bytchat/` that the domain apps use (errors, the database and
  cache helpers, encryption, outbound HTTP, counters, the pipelined Redis connection, reused threads, settings helpers, the admin base
  class and the shared API pieces in `bytchat.api`) is the bottom layer: it imports no
  app. What it needs of one comes through the settings (the native API's authentication is named in
  `REST_FRAMEWORK`, not imported).
- Everything else in `bytchat/` (settings, URLs, ASGI, the panel, the compatibility APIs)
  composes the apps and is the top layer: no domain app imports it.
- `chat.llm`, the model clients, imports no app: only itself and the infrastructure.
- No two apps import each other.

Imports inside functions and under `TYPE_CHECKING` count like any other. Tests (which
build fixtures across apps) and migrations (which name models by string) are not checked.
"""

from __future__ import annotations

import ast
import gc
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The bottom of the stack: bytchat modules any app may import, importing no app themselves.
INFRASTRUCTURE = (
    "bytchat.admin",
    "bytchat.api",
    "bytchat.cache",
    "bytchat.cached",
    "bytchat.counters",
    "bytchat.crypto",
    "bytchat.db",
    "bytchat.env",
    "bytchat.errors",
    "bytchat.outbound",
    "bytchat.redis_pipe",
    "bytchat.threads",
)
DOMAIN_APPS = ("accounts", "bots", "chat", "analytics")
LAYER = {"infrastructure": 0, "accounts": 1, "bots": 2, "chat": 3, "analytics": 4, "bytchat": 5}
# Inside an app, a part held to a stricter rule: it imports only itself and what is listed.
ISOLATED = {"chat.llm": ("chat.llm", *INFRASTRUCTURE)}


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_of(module: str) -> str | None:
    """The layer a project module belongs to (None for anything outside the project)."""
    if any(within(module, name) for name in INFRASTRUCTURE):
        return "infrastructure"
    top = module.split(".")[0]
    return top if top in LAYER else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _parse(path: Path) -> ast.Module:
    """`ast.parse` with the garbage collector held off: on CPython 3.11 before 3.11.8, a
    finalizer that runs Python code while the tree is built (an asyncio task that another
    test left behind, logging its exception) makes it fail with "AST constructor recursion
    depth mismatch" (python/cpython#106905)."""
    source = path.read_text()
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(source, filename=str(path))
    finally:
        if enabled:
            gc.enable()


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, at any depth, relative ones resolved."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found += [(node.lineno, submodule_or_package(base, alias.name)) for alias in node.names]
    return found


def submodule_or_package(package: str, name: str) -> str:
    """What `from package import name` imports: the module `package.name` when there is
    one (`from bytchat import crypto`), else `package`, where `name` is defined."""
    candidate = ROOT.joinpath(*package.split("."), name)
    if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
        return f"{package}.{name}"
    return package


def production_files() -> list[Path]:
    files = []
    for top in (*DOMAIN_APPS, "bytchat"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts or path.name == "conftest.py":
                continue
            files.append(path)
    return files


def violations(files: list[Path]) -> list[str]:
    found = []
    app_edges: dict[tuple[str, str], str] = {}
    for path in files:
        importer = module_name(path)
        importer_layer = layer_of(importer)
        where = path.relative_to(ROOT)
        for line, imported in imported_modules(path):
            imported_layer = layer_of(imported)
            if imported_layer is None:
                continue
            if LAYER[imported_layer] > LAYER[importer_layer]:
                found.append(
                    f"{where}:{line}: {importer_layer} imports {imported} ({imported_layer}, a layer above)"
                )
            for part, allowed in ISOLATED.items():
                if within(importer, part) and not any(within(imported, name) for name in allowed):
                    found.append(f"{where}:{line}: {part} imports {imported}: only {', '.join(allowed)}")
            if importer_layer != imported_layer:
                app_edges.setdefault((importer_layer, imported_layer), f"{where}:{line}")
    for (first, second), place in app_edges.items():
        if first < second and (second, first) in app_edges:
            found.append(f"{first} and {second} import each other: {place} and {app_edges[(second, first)]}")
    return list(dict.fromkeys(found))


def test_the_apps_import_only_the_layers_below_them():
    assert violations(production_files()) == []


def test_every_project_package_has_a_layer():
    packages = {path.parent.name for path in ROOT.glob("*/apps.py")}
    assert packages <= set(LAYER), f"place {packages - set(LAYER)} in LAYER"


@pytest.mark.parametrize(
    ("module", "source", "complaint"),
    [
        ("accounts/example.py", "from bots.models import Bot\n", "accounts imports bots.models"),
        ("bots/example.py", "def later():\n    from chat import models\n", "bots imports chat"),
        ("chat/example.py", "import analytics.selectors\n", "chat imports analytics.selectors"),
        ("chat/llm/example.py", "from chat.models import Run\n", "chat.llm imports chat.models"),
        ("chat/llm/example.py", "from ..errors import ChatError\n", "chat.llm imports chat.errors"),
        ("bots/example.py", "from bytchat.compat.errors import x\n", "bots imports bytchat.compat.errors"),
        ("analytics/example.py", "from bytchat.panel import views\n", "analytics imports bytchat.panel"),
        (
            "bytchat/api/example.py",
            "from accounts.models import User\n",
            "infrastructure imports accounts.models",
        ),
    ],
)
def test_it_names_an_import_against_the_layers(tmp_path, monkeypatch, module, source, complaint):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    path = tmp_path / module
    path.parent.mkdir(parents=True)
    path.write_text(source)
    found = violations([path])
    assert any(complaint in message for message in found), found


def test_it_names_two_apps_that_import_each_other(tmp_path, monkeypatch):
    """Two apps of one layer (the composition layer has several packages) in a loop."""
    monkeypatch.setitem(LAYER, "reports", LAYER["analytics"])
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    sources = {"analytics/a.py": "from reports import b\n", "reports/b.py": "from analytics import a\n"}
    for name, source in sources.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(source)
    found = violations([tmp_path / name for name in sources])
    assert any("analytics and reports import each other" in message for message in found), found

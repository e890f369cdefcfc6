"""Where production code builds on a framework's internals, these tests pin what it builds
on: an upgrade that changes the original fails here, with what to re-check, instead of
quietly changing how requests run."""

from __future__ import annotations

import ast
import hashlib
import inspect
from pathlib import Path

from django.core.cache.backends.redis import RedisCache
from django.utils.deprecation import MiddlewareMixin
from rest_framework_simplejwt.authentication import JWTAuthentication

ROOT = Path(__file__).resolve().parents[2]


def _fingerprint(function) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


def _assert_unchanged(function, expected: str, recheck: str) -> None:
    source = inspect.getsource(function)
    assert _fingerprint(function) == expected, (
        f"{function.__module__}.{function.__qualname__} changed in this upgrade. {recheck} "
        f"Then update the fingerprint here to {_fingerprint(function)!r}.\nIts source now:\n{source}"
    )


def test_bytchat_middleware_is_based_on_djangos_current_acall():
    # bytchat.middleware.InlineHooks.__acall__ is this method with the hooks called inline.
    _assert_unchanged(
        MiddlewareMixin.__acall__,
        "adf8cbcaf9f11e45c4ac1953556ac422f2a6fe4193df5edbed186b2b66bea729",
        "Compare it with bytchat.middleware.InlineHooks.__acall__, a copy that calls "
        "process_request and process_response on the event loop, and carry every change "
        "over (a new hook, a new check, a changed order).",
    )


def test_the_shared_redis_client_is_built_as_djangos_backend_builds_it():
    # bytchat.cache.RedisCache._cache builds the client the same way, once per process.
    _assert_unchanged(
        RedisCache._cache.func,
        "9ff16af6c04a2401b81c722bb57c120805f496039011d3a8c76c8163df6b0970",
        "Check that bytchat.cache.RedisCache._cache still builds the client from the same "
        "attributes (_class, _servers, _options) as this method.",
    )


def test_the_plan_is_loaded_where_simplejwt_reads_the_user():
    # accounts.authentication hands simplejwt a `user_model` with only `objects` and
    # `DoesNotExist`: all that get_user uses of it.
    _assert_unchanged(
        JWTAuthentication.get_user,
        "780afd0c20b4c03456b5795efaad4afa31f6b86e83e09df079a843e0891b92cb",
        "Check that it still uses nothing of self.user_model but `objects.get` and "
        "`DoesNotExist` (accounts.authentication._UsersWithPlan provides only those).",
    )


def _production_modules():
    for package in ("accounts", "bots", "chat", "analytics", "bytchat"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "tests" not in path.relative_to(ROOT).parts:
                yield path


def test_production_code_does_not_import_djangos_test_tools():
    offenders = []
    for path in _production_modules():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            if any(name == "django.test" or name.startswith("django.test.") for name in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []

"""Schema fuzzing: every operation of /api/v1/schema/, as a regular user and as an admin,
with schemathesis, in-process over ASGI. It passes with 0 server errors and 0 responses
outside the schema (status code, content type, body and headers as documented).

Not part of the normal run (marker `fuzz`, deselected by pytest.ini); CI runs it on
PostgreSQL:

    BYTCHAT_FUZZ_SEED=1 BYTCHAT_FUZZ_EXAMPLES=25 pytest -m fuzz tests/test_fuzz.py

The seed, and a report per user (operations, cases, failures with an example of each), are
written to test-artifacts/. No request leaves the process: the app is called in-process,
every model config is served by the offline `local` provider, and resolving any host other
than loopback fails.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from hypothesis import HealthCheck, Phase, given
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Plan
from accounts.services import auth_tokens_issue
from accounts.tests.factories import make_user
from analytics.tests.factories import populate
from bots.models import ModelConfig
from bots.tests.factories import make_bot, make_category, make_indexed_document

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]

SEED = int(os.environ.get("BYTCHAT_FUZZ_SEED", "20261130"))
EXAMPLES = int(os.environ.get("BYTCHAT_FUZZ_EXAMPLES", "25"))
# Invalid input (wrong types, missing fields, out-of-range values): it must get a documented
# 4xx, never a 5xx or an answer outside the schema.
NEGATIVE_EXAMPLES = int(os.environ.get("BYTCHAT_FUZZ_NEGATIVE_EXAMPLES", "15"))
ARTIFACTS = Path(os.environ.get("BYTCHAT_FUZZ_ARTIFACTS", Path(settings.BASE_DIR) / "test-artifacts"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Deletions last, so that the other operations find the demo objects.
METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
LOOPBACK_NAMES = {"localhost", "testserver"}
BODY_IDS = {"bot": "bot_id", "conversation": "conversation_id", "category": "category_id"}


@dataclass
class OperationStats:
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: int = 0
    mismatches: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Report:
    role: str
    mode: str = "positive"
    examples: int = EXAMPLES
    operations: dict[str, OperationStats] = field(default_factory=lambda: defaultdict(OperationStats))
    refused_connections: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return self.role if self.mode == "positive" else f"{self.role}-{self.mode}"

    def totals(self) -> dict[str, int]:
        stats = self.operations.values()
        return {
            "operations": len(self.operations),
            "cases": sum(s.cases for s in stats),
            "server_errors": sum(s.server_errors for s in stats),
            "schema_mismatches": sum(s.mismatches for s in stats),
            "refused_connections": len(self.refused_connections),
        }

    def write(self) -> dict[str, Any]:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        body = {
            "role": self.role,
            "mode": self.mode,
            "seed": SEED,
            "examples_per_operation": self.examples,
            "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            "wall_seconds": round(self.seconds, 1),
            **self.totals(),
            "refused_connections_to": self.refused_connections[:20],
            "per_operation": {
                label: {
                    "cases": s.cases,
                    "statuses": dict(sorted(s.statuses.items())),
                    "server_errors": s.server_errors,
                    "schema_mismatches": s.mismatches,
                    "examples": s.examples,
                }
                for label, s in sorted(self.operations.items())
            },
        }
        (ARTIFACTS / f"fuzz-{self.label}.json").write_text(json.dumps(body, indent=2, default=str))
        (ARTIFACTS / "fuzz-seed.txt").write_text(f"{SEED}\n")
        return body


def _loopback_only(monkeypatch: pytest.MonkeyPatch, report: Report) -> None:
    """Refuse to resolve any host but loopback: nothing the fuzzer makes the server do can
    reach the network (a model config's base URL, a webhook...)."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        try:
            allowed = ipaddress.ip_address(name.strip("[]")).is_loopback
        except ValueError:
            allowed = name.lower() in LOOPBACK_NAMES
        if not allowed:
            report.refused_connections.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"fuzzing: {name} is not loopback")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _no_request_throttles(monkeypatch: pytest.MonkeyPatch) -> None:
    from rest_framework.throttling import SimpleRateThrottle

    rates = {**SimpleRateThrottle.THROTTLE_RATES, "user": "1000000/minute", "anon": "1000000/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def _local_models_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from chat.llm import registry

    local = registry._instances["local"]
    for implementation in set(registry.IMPLEMENTATIONS.values()):
        monkeypatch.setitem(registry._instances, implementation, local)


def _demo_data() -> dict[str, Any]:
    """Users, a category, a bot with an indexed document, a platform agent, conversations,
    messages, runs and feedback: ids that exist, for the path parameters."""
    # Limits the fuzzer would hit in its first seconds hide the rest of each operation; the
    # limits themselves have their own tests.
    Plan.objects.update_or_create(
        is_default=True, defaults={"name": "Fuzz", "messages_per_minute": None, "monthly_token_quota": None}
    )
    user = make_user(email="fuzz-user@example.com")
    admin = make_user(email="fuzz-admin@example.com", role="admin")
    category = make_category()
    bot = make_bot(owner=user, category=category)
    agent = make_bot(owner=None, category=category, is_public=True)
    admins_bot = make_bot(owner=admin, category=category)
    document = make_indexed_document(bot=bot, text="Bytchat answers from the documents of each bot.")
    runs = populate(users=[user, admin], bots=[bot, agent], days=3, conversations_per_day=2)
    messages = [run.message_id for run in runs if run.message_id]
    conversations = {run.conversation_id for run in runs}
    return {
        "user": user,
        "admin": admin,
        "ids": {
            "bot_id": [str(bot.pk), str(agent.pk), str(admins_bot.pk)],
            "config_id": [str(pk) for pk in ModelConfig.objects.values_list("pk", flat=True)],
            "document_id": [str(document.pk)],
            "category_id": [str(category.pk)],
            "conversation_id": sorted(str(pk) for pk in conversations),
            "message_id": [str(pk) for pk in messages],
            "user_id": [str(user.pk), str(admin.pk)],
        },
    }


def _record(stats: OperationStats, kind: str, case, response, error: BaseException | None) -> None:
    if len(stats.examples) < 3:
        stats.examples.append(
            {
                "kind": kind,
                "method": case.method,
                "path": case.formatted_path,
                "query": case.query,
                "body": case.body
                if isinstance(case.body, (dict, list, str, int, float, type(None)))
                else "…",
                "status": getattr(response, "status_code", None),
                "response": (getattr(response, "text", "") or "")[:500],
                "error": str(error)[:1000] if error else None,
            }
        )


def _fuzz(role: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> Report:
    from bytchat.asgi import application

    examples = EXAMPLES if mode == "positive" else NEGATIVE_EXAMPLES
    report = Report(role=role, mode=mode, examples=examples)
    _loopback_only(monkeypatch, report)
    _local_models_only(monkeypatch)
    _no_request_throttles(monkeypatch)
    demo = _demo_data()
    caller = demo["admin"] if role == "admin" else demo["user"]
    headers = {"Authorization": f"Bearer {auth_tokens_issue(user=caller).access}"}
    known_ids = demo["ids"]
    schema = schemathesis.openapi.from_asgi("/api/v1/schema/?format=json", application)
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda operation: (METHOD_ORDER.get(operation.method.upper(), 1), operation.path),
    )
    started = time.monotonic()
    for operation in operations:
        _fuzz_operation(
            operation,
            report.operations[f"{operation.method.upper()} {operation.path}"],
            headers,
            known_ids,
            mode=GenerationMode(mode),
            examples=examples,
        )
    report.seconds = time.monotonic() - started
    return report


def _fuzz_operation(
    operation,
    stats: OperationStats,
    headers: dict[str, str],
    known_ids: dict,
    *,
    mode: GenerationMode,
    examples: int,
) -> None:
    strategy = operation.as_strategy(generation_mode=mode)

    @hypothesis_seed(SEED)
    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data) -> None:
        case = data.draw(strategy)
        for name in list(case.path_parameters or {}):
            if name in known_ids and data.draw(st.integers(0, 3)):
                case.path_parameters[name] = data.draw(st.sampled_from(known_ids[name]))
        # Ids in bodies and queries too (the chat's bot and conversation, filters).
        for values in (case.body, case.query):
            if isinstance(values, dict):
                for name, ids in BODY_IDS.items():
                    if name in values and data.draw(st.integers(0, 3)):
                        values[name] = data.draw(st.sampled_from(known_ids[ids]))
        stats.cases += 1
        try:
            response = case.call(headers=headers)
        except Exception as error:  # the app raised past its own handlers
            stats.server_errors += 1
            _record(stats, "server_error", case, None, error)
            return
        stats.statuses[response.status_code] += 1
        if response.status_code >= 500:
            # Even a documented 5xx (502 CHAT_FAILED) is a failure here: the offline model
            # always answers.
            stats.server_errors += 1
            _record(stats, "server_error", case, response, None)
            return
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as failure:  # schemathesis groups its failures
            if response.status_code >= 500:
                stats.server_errors += 1
                _record(stats, "server_error", case, response, failure)
            else:
                stats.mismatches += 1
                _record(stats, "schema_mismatch", case, response, failure)

    run()


def _summary(reports: list[dict[str, Any]]) -> str:
    lines = [
        "| user | input | operations | cases | server errors | schema mismatches | wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for body in reports:
        lines.append(
            f"| {body['role']} | {body['mode']} | {body['operations']} | {body['cases']} | {body['server_errors']} | "
            f"{body['schema_mismatches']} | {body['wall_seconds']} s |"
        )
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("role", "mode"), [("user", "positive"), ("admin", "positive"), ("user", "negative")]
)
def test_the_api_answers_every_generated_request_as_its_schema_says(role, mode, monkeypatch):
    report = _fuzz(role, mode, monkeypatch).write()
    summary = ARTIFACTS / "fuzz-summary.md"
    first = (role, mode) == ("user", "positive")
    previous = summary.read_text() if summary.exists() and not first else ""
    this_row = f"| {role} | {mode} |"
    rows = [line for line in previous.splitlines()[2:] if line.startswith("| ") and this_row not in line]
    table = _summary([report]).splitlines()
    summary.write_text(
        "\n".join(table[:2] + rows + table[2:])
        + f"\n\nSeed {SEED}; {EXAMPLES} valid and {NEGATIVE_EXAMPLES} invalid examples per operation.\n"
    )
    failures = {
        label: operation["examples"]
        for label, operation in report["per_operation"].items()
        if operation["server_errors"] or operation["schema_mismatches"]
    }
    assert not failures, json.dumps(failures, indent=2, default=str)[:20000]
    assert report["cases"] >= report["operations"]

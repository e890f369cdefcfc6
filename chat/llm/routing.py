"""Which model configs to try, in which order, for a message.

The functions take any object with `task_type`, `priority` and `is_active` attributes
(`RoutableConfig`), so the engine can pass `bots.ModelConfig` rows or `ModelSpec`-like
test doubles alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal, Protocol, TypeVar

TaskType = Literal["simple", "complex", "general"]
TASK_TYPES: tuple[TaskType, ...] = ("simple", "complex", "general")

SIMPLE_MAX_WORDS = 20
COMPLEX_MIN_WORDS = 80

# Requests that ask for reasoning or structure rather than a fact.
_COMPLEX_CUES = re.compile(
    r"\b(compare|comparison|contrast|differences?\s+between|pros\s+and\s+cons|step[\s-]+by[\s-]+step|"
    r"in\s+detail|analy[sz]e|analysis|evaluate|trade-?offs?|summari[sz]e|outline|"
    r"compar[ae]r?|comparaci[oó]n|diferencias?\s+entre|ventajas\s+y\s+desventajas|paso\s+a\s+paso|"
    r"en\s+detalle|detalladamente|anali[zc]a|an[aá]lisis|eval[uú]a|resumir|resumen)",
    re.IGNORECASE,
)
_LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.MULTILINE)


class RoutableConfig(Protocol):
    task_type: str
    priority: int
    is_active: bool


Config = TypeVar("Config", bound=RoutableConfig)


def classify_task(message: str) -> TaskType:
    """A cheap guess: a short plain question is `simple`; a long or multi-part one is
    `complex`; everything in between is `general`."""
    words = len(message.split())
    questions = message.count("?")
    list_lines = len(_LIST_LINE.findall(message))
    if words >= COMPLEX_MIN_WORDS or questions >= 2 or list_lines >= 2 or _COMPLEX_CUES.search(message):
        return "complex"
    if words <= SIMPLE_MAX_WORDS and "\n" not in message.strip():
        return "simple"
    return "general"


def resolve_task_type(requested: str | None, message: str) -> TaskType:
    """The request's task type when it names one, else the heuristic's guess."""
    if requested in TASK_TYPES:
        return requested  # type: ignore[return-value]
    return classify_task(message)


def order_specs(configs: Iterable[Config], task_type: str) -> list[Config]:
    """Active configs to try in turn: those for the task type, then `general` ones, then
    any other, each group by ascending `priority` (1 before 2) and otherwise as given."""
    active = [config for config in configs if config.is_active]

    def group(config: Config) -> int:
        if config.task_type == task_type:
            return 0
        return 1 if config.task_type == "general" else 2

    return sorted(active, key=lambda config: (group(config), config.priority))

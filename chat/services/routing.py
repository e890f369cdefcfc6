"""Which task a message is, and which model configs to try for it, in which order.

The task types are `bots.models.TaskType`, their one definition; `task_type_resolve` is the
one place that checks a requested task type or guesses one. `order_specs` takes any object
with `task_type`, `priority` and `is_active` attributes (`RoutableConfig`), so the engine
can pass `bots.ModelConfig` rows or test doubles alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol, TypeVar

from bots.models import TaskType
from bytchat.errors import InvalidInput

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
        return TaskType.COMPLEX
    if words <= SIMPLE_MAX_WORDS and "\n" not in message.strip():
        return TaskType.SIMPLE
    return TaskType.GENERAL


def task_type_resolve(requested: str | None, *, message: str) -> TaskType:
    """The requested task type, or the heuristic's guess when none is requested. A name
    that is not a task type is bad input, whichever surface sent it."""
    if requested is None:
        return classify_task(message)
    try:
        return TaskType(requested)
    except ValueError:
        raise InvalidInput(fields={"task_type": [f"Must be one of: {', '.join(TaskType.values)}."]}) from None


def order_specs(configs: Iterable[Config], task_type: str) -> list[Config]:
    """Active configs to try in turn: those for the task type, then `general` ones, then
    any other, each group by ascending `priority` (1 before 2) and otherwise as given."""
    active = [config for config in configs if config.is_active]

    def group(config: Config) -> int:
        if config.task_type == task_type:
            return 0
        return 1 if config.task_type == TaskType.GENERAL else 2

    return sorted(active, key=lambda config: (group(config), config.priority))

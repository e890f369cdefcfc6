from __future__ import annotations

from dataclasses import dataclass

import pytest

from bytchat.errors import InvalidInput
from chat.services.routing import classify_task, order_specs, task_type_resolve


@pytest.mark.parametrize(
    "message",
    ["What are your opening hours?", "¿Cuánto cuesta el plan?", "hola", "Can I attach my resume?"],
)
def test_a_short_plain_question_is_simple(message):
    assert classify_task(message) == "simple"


@pytest.mark.parametrize(
    "message",
    [
        "Compare the basic and premium plans.",
        "¿Cuáles son las ventajas y desventajas del plan anual?",
        "Explain step by step how to reset my password",
        "Explícame paso a paso cómo configurarlo",
        "What does it cost? And how long does shipping take?",
        "I need help with:\n- my invoice\n- my address\n- my order",
        "word " * 90,
    ],
)
def test_a_long_or_multi_part_request_is_complex(message):
    assert classify_task(message) == "complex"


def test_something_in_between_is_general():
    message = (
        "I bought a jacket last week from the online store and I would like to know what I should do "
        "if it does not fit me well"
    )

    assert classify_task(message) == "general"


def test_the_requests_task_type_wins_over_the_heuristic():
    assert task_type_resolve("complex", message="hi") == "complex"
    assert task_type_resolve(None, message="hi") == "simple"


@pytest.mark.parametrize("requested", ["nonsense", "", "GENERAL"])
def test_a_name_that_is_not_a_task_type_is_bad_input(requested):
    with pytest.raises(InvalidInput) as raised:
        task_type_resolve(requested, message="hi")

    assert raised.value.fields == {"task_type": ["Must be one of: general, simple, complex."]}


@dataclass
class Config:
    name: str
    task_type: str
    priority: int
    is_active: bool = True


CONFIGS = [
    Config("general-2", "general", 2),
    Config("complex-1", "complex", 1),
    Config("simple-2", "simple", 2),
    Config("general-1", "general", 1),
    Config("simple-1", "simple", 1),
    Config("simple-off", "simple", 0, is_active=False),
]


def names(configs) -> list[str]:
    return [config.name for config in configs]


def test_configs_for_the_task_come_first_then_general_then_the_rest():
    assert names(order_specs(CONFIGS, "simple")) == [
        "simple-1",
        "simple-2",
        "general-1",
        "general-2",
        "complex-1",
    ]
    assert names(order_specs(CONFIGS, "complex")) == [
        "complex-1",
        "general-1",
        "general-2",
        "simple-1",
        "simple-2",
    ]


def test_general_requests_try_general_configs_first():
    assert names(order_specs(CONFIGS, "general"))[:2] == ["general-1", "general-2"]


def test_inactive_configs_are_never_tried():
    assert "simple-off" not in names(order_specs(CONFIGS, "simple"))


def test_equal_priorities_keep_the_given_order():
    configs = [Config("b", "simple", 1), Config("a", "simple", 1)]

    assert names(order_specs(configs, "simple")) == ["b", "a"]

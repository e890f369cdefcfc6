"""Failover between model specs, with in-memory providers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from chat.llm import (
    AllProvidersFailed,
    ChatMessage,
    ChatRequest,
    FailedAttempt,
    ModelChosen,
    ModelSpec,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    TextDelta,
    Usage,
    provider_for,
    stream_with_failover,
)

REQUEST = ChatRequest(system_prompt="", messages=[ChatMessage("user", "Hi")], language="en")


class ScriptedProvider:
    """Yields its script; an exception in the script is raised at that point."""

    def __init__(self, *script) -> None:
        self.script = script
        self.calls = 0
        self.closed = False

    async def stream(self, spec, request) -> AsyncIterator:
        self.calls += 1
        try:
            for step in self.script:
                if isinstance(step, BaseException):
                    raise step
                yield step
        finally:
            self.closed = True


def run(specs: list[ModelSpec], providers: dict[str, ScriptedProvider], received: list | None = None) -> list:
    received = [] if received is None else received

    async def consume() -> None:
        stream = stream_with_failover(specs, REQUEST, resolve=lambda spec: providers[spec.model_id])
        async for item in stream:
            received.append(item)

    asyncio.run(consume())
    return received


ANSWER = (TextDelta("Hello "), TextDelta("there."), Usage(10, 2))


def test_the_first_model_that_answers_is_chosen_and_the_failures_recorded():
    providers = {
        "down": ScriptedProvider(ProviderUnavailable("connection refused")),
        "busy": ScriptedProvider(ProviderRateLimited("HTTP 429")),
        "fine": ScriptedProvider(*ANSWER),
        "spare": ScriptedProvider(*ANSWER),
    }
    specs = [ModelSpec("openai", name, config_id=name) for name in providers]

    chosen, *answer = run(specs, providers)

    assert chosen == ModelChosen(
        specs[2],
        (
            FailedAttempt("openai", "down", "unavailable", "connection refused", "down"),
            FailedAttempt("openai", "busy", "rate_limited", "HTTP 429", "busy"),
        ),
    )
    assert answer == list(ANSWER)
    assert providers["spare"].calls == 0
    assert all(provider.closed for name, provider in providers.items() if name != "spare")


def test_a_failure_after_the_first_delta_is_not_failed_over():
    providers = {
        "flaky": ScriptedProvider(TextDelta("Hel"), ProviderTimeout("stalled")),
        "spare": ScriptedProvider(*ANSWER),
    }
    received: list = []

    with pytest.raises(ProviderTimeout):
        run([ModelSpec("openai", "flaky"), ModelSpec("gemini", "spare")], providers, received)

    assert received == [ModelChosen(ModelSpec("openai", "flaky")), TextDelta("Hel")]
    assert providers["spare"].calls == 0


def test_when_every_model_fails_the_error_lists_each_attempt():
    providers = {
        "a": ScriptedProvider(ProviderTimeout("slow")),
        "b": ScriptedProvider(ProviderUnavailable("HTTP 503")),
    }

    with pytest.raises(AllProvidersFailed) as raised:
        run([ModelSpec("openai", "a"), ModelSpec("gemini", "b")], providers)

    assert [(a.provider, a.code) for a in raised.value.failed_attempts] == [
        ("openai", "timeout"),
        ("gemini", "unavailable"),
    ]
    assert raised.value.code == "all_failed"


def test_no_model_at_all_fails_plainly():
    with pytest.raises(AllProvidersFailed) as raised:
        run([], {})

    assert raised.value.failed_attempts == ()


def test_an_empty_answer_counts_as_a_failure():
    providers = {"mute": ScriptedProvider(Usage(5, 0)), "fine": ScriptedProvider(*ANSWER)}

    chosen, *_ = run([ModelSpec("openai", "mute"), ModelSpec("openai", "fine")], providers)

    assert [(a.model_id, a.code) for a in chosen.failed_attempts] == [("mute", "bad_response")]


def test_an_unexpected_provider_crash_fails_over_too():
    providers = {"buggy": ScriptedProvider(KeyError("choices")), "fine": ScriptedProvider(*ANSWER)}

    chosen, *answer = run([ModelSpec("openai", "buggy"), ModelSpec("openai", "fine")], providers)

    assert [(a.model_id, a.code) for a in chosen.failed_attempts] == [("buggy", "provider_error")]
    assert answer == list(ANSWER)


def test_an_unknown_provider_is_skipped_as_a_bad_request():
    specs = [ModelSpec("llama-cloud", "x"), ModelSpec("local", "extractive")]

    async def consume() -> list:
        return [item async for item in stream_with_failover(specs, REQUEST)]

    chosen, *_ = asyncio.run(consume())

    assert chosen.spec.provider == "local"
    assert [(a.provider, a.code) for a in chosen.failed_attempts] == [("llama-cloud", "bad_request")]


def test_a_consumer_that_stops_early_closes_the_providers_stream():
    provider = ScriptedProvider(*ANSWER)

    async def first_delta() -> None:
        stream = stream_with_failover([ModelSpec("openai", "p")], REQUEST, resolve=lambda spec: provider)
        async for item in stream:
            if isinstance(item, TextDelta):
                break
        await stream.aclose()

    asyncio.run(first_delta())

    assert provider.closed


def test_google_is_an_alias_of_gemini():
    assert provider_for(ModelSpec("google", "gemini-x")) is provider_for(ModelSpec("gemini", "gemini-x"))
    assert provider_for(ModelSpec("openai_compatible", "m")) is provider_for(ModelSpec("openai", "m"))


def test_a_failed_attempt_is_stored_as_plain_json():
    attempt = FailedAttempt("openai", "gpt-x", "timeout", "The model did not answer in time.", "12")

    assert attempt.as_dict() == {
        "provider": "openai",
        "model_id": "gpt-x",
        "code": "timeout",
        "message": "The model did not answer in time.",
        "config_id": "12",
    }

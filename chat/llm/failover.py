"""Answer with the first model that can: fail over before the first delta, never after."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence

from .base import (
    AllProvidersFailed,
    ChatRequest,
    FailedAttempt,
    ModelChosen,
    ModelSpec,
    Provider,
    ProviderConnectionLost,
    ProviderError,
    StreamItem,
    TextDelta,
)
from .registry import provider_for

logger = logging.getLogger(__name__)


async def _close(stream: AsyncIterator[StreamItem] | None) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def _failed(spec: ModelSpec, code: str, message: str) -> FailedAttempt:
    return FailedAttempt(
        provider=spec.provider, model_id=spec.model_id, code=code, message=message, config_id=spec.config_id
    )


async def stream_with_failover(
    specs: Sequence[ModelSpec],
    request: ChatRequest,
    *,
    resolve: Callable[[ModelSpec], Provider] = provider_for,
) -> AsyncIterator[ModelChosen | StreamItem]:
    """Yield `ModelChosen`, then the chosen model's `TextDelta`s and its `Usage`.

    Each spec is tried in order until one produces a first delta; the ones that failed
    before it are listed in `ModelChosen.failed_attempts`. Once text has been sent, a
    failure is the answer's (a `ProviderError` propagates): switching models mid-answer
    would splice two answers. When no spec produces text, `AllProvidersFailed` carries
    every attempt.

    A connection lost before the first delta (`ProviderConnectionLost`) has the same
    spec asked once more, at once, before the next one: a server that closed a kept-alive
    connection as the request went out on it answers on a new one.
    """
    failed: list[FailedAttempt] = []
    for spec in specs:
        for attempt in (1, 2):
            stream: AsyncIterator[StreamItem] | None = None
            again = False
            try:
                stream = resolve(spec).stream(spec, request)
                first = await anext(stream)
            except ProviderError as error:
                failed.append(_failed(spec, error.code, error.message))
                again = isinstance(error, ProviderConnectionLost) and attempt == 1
            except StopAsyncIteration:
                failed.append(_failed(spec, "bad_response", "The stream ended without an answer."))
            except Exception as error:
                # A provider bug must not take the chat down while another model could answer.
                logger.exception("Provider %s crashed before its first delta", spec.provider)
                failed.append(_failed(spec, "provider_error", f"{type(error).__name__}: {error}"))
            else:
                if isinstance(first, TextDelta):
                    yield ModelChosen(spec, tuple(failed))
                    try:
                        yield first
                        async for item in stream:
                            yield item
                    finally:
                        await _close(stream)
                    return
                failed.append(_failed(spec, "bad_response", "The model returned an empty answer."))
            await _close(stream)
            if not again:
                break
    raise AllProvidersFailed(failed)

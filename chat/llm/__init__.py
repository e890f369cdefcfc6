"""Model providers for the chat engine: a typed streaming interface, the offline `local`
provider, the OpenAI and Gemini SDK providers and failover. Which models to try (routing
by task type) is the engine's choice: `chat.services.routing`.

The engine's entry points:

    configs = order_specs(active_model_configs, task_type_resolve(task_type, message=question))
    specs = [ModelSpec(provider=c.provider, model_id=c.model_id, ...) for c in configs]
    async for item in stream_with_failover(specs, ChatRequest(...)):
        ModelChosen -> which model answers (and the attempts that failed before it)
        TextDelta   -> a piece of the answer
        Usage       -> the last item: input and output tokens
    AllProvidersFailed (a ProviderError) when no model produced text;
    another ProviderError when the chosen model fails mid-answer.
"""

from .base import (
    AllProvidersFailed,
    ChatMessage,
    ChatRequest,
    FailedAttempt,
    ModelChosen,
    ModelSpec,
    Provider,
    ProviderBadRequest,
    ProviderBadResponse,
    ProviderConnectionLost,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    Source,
    StreamItem,
    TextDelta,
    Usage,
)
from .failover import stream_with_failover
from .registry import aclose_clients, provider_for

__all__ = [
    "AllProvidersFailed",
    "ChatMessage",
    "ChatRequest",
    "FailedAttempt",
    "ModelChosen",
    "ModelSpec",
    "Provider",
    "ProviderBadRequest",
    "ProviderBadResponse",
    "ProviderConnectionLost",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderTimeout",
    "ProviderUnavailable",
    "Source",
    "StreamItem",
    "TextDelta",
    "Usage",
    "aclose_clients",
    "provider_for",
    "stream_with_failover",
]

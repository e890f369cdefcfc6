"""Model providers for the chat engine: a typed streaming interface, the offline `local`
provider, the OpenAI and Gemini SDK providers, routing by task type and failover.

The engine's entry points:

    configs = order_specs(active_model_configs, resolve_task_type(task_type, question))
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
from .routing import RoutableConfig, classify_task, order_specs, resolve_task_type

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
    "ProviderError",
    "ProviderRateLimited",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RoutableConfig",
    "Source",
    "StreamItem",
    "TextDelta",
    "Usage",
    "aclose_clients",
    "classify_task",
    "order_specs",
    "provider_for",
    "resolve_task_type",
    "stream_with_failover",
]

"""Which provider serves a `ModelSpec`. The SDK-backed providers are imported on first use,
so the offline path never pays for importing the SDKs."""

from __future__ import annotations

from .base import ModelSpec, Provider, ProviderBadRequest
from .local import LocalProvider

# Provider names as configs spell them -> the implementation serving them. Older clients
# call Gemini "google".
IMPLEMENTATIONS = {
    "local": "local",
    "openai": "openai",
    "openai_compatible": "openai",
    "gemini": "gemini",
    "google": "gemini",
}

_instances: dict[str, Provider] = {"local": LocalProvider()}


def _create(implementation: str) -> Provider:
    if implementation == "openai":
        from .openai_provider import OpenAIProvider

        return OpenAIProvider()
    from .gemini_provider import GeminiProvider

    return GeminiProvider()


def provider_for(spec: ModelSpec) -> Provider:
    implementation = IMPLEMENTATIONS.get(spec.provider)
    if implementation is None:
        raise ProviderBadRequest(f"Unknown provider {spec.provider!r}.")
    provider = _instances.get(implementation)
    if provider is None:
        provider = _instances[implementation] = _create(implementation)
    return provider


async def aclose_clients() -> None:
    """Close the SDK clients opened on the running event loop (ASGI shutdown, test end)."""
    for provider in _instances.values():
        aclose = getattr(provider, "aclose", None)
        if aclose is not None:
            await aclose()

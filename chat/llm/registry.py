"""Which provider serves a `ModelSpec`. The SDK-backed providers are imported on first use,
so the offline path never pays for importing the SDKs; a web process imports those it is
configured for as it starts (`preload`)."""

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


def configured_implementations(settings) -> list[str]:
    """The SDK-backed implementations the platform's settings point at: those a web process
    will serve (a model config with a key and URL of its own may still need another)."""
    wanted = []
    if settings.OPENAI_API_KEY or settings.OPENAI_BASE_URL or settings.OPENAI_COMPATIBLE_BASE_URL:
        wanted.append("openai")
    if settings.GEMINI_API_KEY or settings.GEMINI_BASE_URL:
        wanted.append("gemini")
    return wanted


def preload(names: list[str]) -> None:
    """Import and create the providers named (implementations or provider names) now,
    rather than at the first answer they serve."""
    for name in names:
        implementation = IMPLEMENTATIONS.get(name)
        if implementation is None:
            raise ProviderBadRequest(f"Unknown provider {name!r}.")
        if implementation not in _instances:
            _instances[implementation] = _create(implementation)


async def aclose_clients() -> None:
    """Close the SDK clients opened on the running event loop (ASGI shutdown, test end)."""
    for provider in _instances.values():
        aclose = getattr(provider, "aclose", None)
        if aclose is not None:
            await aclose()

"""`openai` and `openai_compatible` models through the official SDK's async client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from typing import Any

import openai
from django.conf import settings

from bytchat.outbound import guarded_async_client

from .base import (
    ChatRequest,
    ModelSpec,
    ProviderBadRequest,
    ProviderBadResponse,
    ProviderConnectionLost,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    StreamItem,
    TextDelta,
    Usage,
    connection_for,
    error_for_status,
    estimate_tokens,
)
from .clients import ClientCache, provider_timeout_seconds
from .prompting import build_system_instruction, conversation_messages
from .transport import connection_dropped


def translate_error(error: openai.OpenAIError) -> ProviderError:
    if isinstance(error, openai.APITimeoutError):
        return ProviderTimeout("The model did not answer in time.")
    if isinstance(error, openai.APIConnectionError):
        cause = error.__cause__ or error
        lost = ProviderConnectionLost if connection_dropped(error) else ProviderUnavailable
        return lost(f"Could not reach the model: {type(cause).__name__}: {cause}")
    if isinstance(error, openai.APIStatusError):
        # The SDK's message already reads "Error code: 500 - ...".
        return error_for_status(error.status_code, error.message)
    if isinstance(error, openai.APIResponseValidationError):
        return ProviderBadResponse(f"Unexpected response: {error.message}")
    if isinstance(error, openai.APIError):
        # An `{"error": ...}` object inside the stream.
        return ProviderUnavailable(f"The model reported an error: {error.message}")
    return ProviderUnavailable(str(error))


async def _close(client: openai.AsyncOpenAI) -> None:
    await client.close()


def _new_client(key: tuple[Hashable, ...]) -> openai.AsyncOpenAI:
    api_key, base_url, timeout, guarded = key
    # A user-set URL: every connection (redirects too) goes through the address check.
    http_client = guarded_async_client(timeout=timeout) if guarded else None
    # Failover is our retry: an SDK retry would only delay the next model.
    return openai.AsyncOpenAI(
        api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0, http_client=http_client
    )


class OpenAIProvider:
    def __init__(self) -> None:
        self._clients: ClientCache[openai.AsyncOpenAI] = ClientCache(_new_client, _close)

    def _client(self, spec: ModelSpec) -> openai.AsyncOpenAI:
        if spec.provider == "openai_compatible":
            connection = connection_for(
                spec,
                platform_key=settings.OPENAI_COMPATIBLE_API_KEY,
                platform_base_url=settings.OPENAI_COMPATIBLE_BASE_URL,
            )
            if not connection.base_url:
                raise ProviderBadRequest("An openai_compatible model needs a base URL.")
        else:
            connection = connection_for(
                spec, platform_key=settings.OPENAI_API_KEY, platform_base_url=settings.OPENAI_BASE_URL
            )
            if not connection.api_key and not spec.base_url:
                raise ProviderUnavailable("OPENAI_API_KEY is not set.")
        return self._clients.get(connection.client_key(provider_timeout_seconds()))

    @staticmethod
    def _arguments(spec: ModelSpec, request: ChatRequest) -> dict[str, Any]:
        messages = [{"role": "system", "content": build_system_instruction(request)}]
        messages += [{"role": m.role, "content": m.content} for m in conversation_messages(request)]
        arguments: dict[str, Any] = {
            "model": spec.model_id,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if spec.temperature is not None:
            arguments["temperature"] = spec.temperature
        if spec.max_output_tokens is not None:
            # OpenAI deprecated `max_tokens`; compatible servers mostly know only it.
            name = "max_tokens" if spec.provider == "openai_compatible" else "max_completion_tokens"
            arguments[name] = spec.max_output_tokens
        if spec.top_p is not None:
            arguments["top_p"] = spec.top_p
        if spec.stop:
            arguments["stop"] = list(spec.stop)
        return arguments

    async def stream(self, spec: ModelSpec, request: ChatRequest) -> AsyncIterator[StreamItem]:
        client = self._client(spec)
        arguments = self._arguments(spec, request)
        try:
            # The SDK's own request, errors, timeouts and stream reading, with each chunk
            # left as the JSON object it arrived as: `chat.completions.create` builds a
            # typed model of every chunk, which costs more than all the rest of relaying it.
            stream = await client.post(
                "/chat/completions",
                body=arguments,
                cast_to=object,
                stream=True,
                stream_cls=openai.AsyncStream[object],
            )
        except openai.OpenAIError as error:
            raise translate_error(error) from error

        finished = False
        usage = None
        answer: list[str] = []
        try:
            async for chunk in stream:
                if not isinstance(chunk, dict):
                    raise ProviderBadResponse("A chunk is not a JSON object.")
                if isinstance(chunk.get("usage"), dict):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta") or {}
                    content = delta.get("content")
                    if content:
                        if not isinstance(content, str):
                            raise ProviderBadResponse("A chunk's content is not text.")
                        answer.append(content)
                        yield TextDelta(content)
                    if choice.get("finish_reason"):
                        finished = True
        except openai.OpenAIError as error:
            raise translate_error(error) from error
        except (ValueError, AttributeError) as error:
            # Not JSON, not UTF-8, or not shaped like a chunk.
            raise ProviderBadResponse(f"Malformed chunk: {error}") from error
        finally:
            await stream.close()

        if not finished:
            raise ProviderUnavailable("The stream ended before the answer was complete.")
        tokens = (usage or {}).get("prompt_tokens"), (usage or {}).get("completion_tokens")
        if all(isinstance(count, int) for count in tokens):
            yield Usage(input_tokens=tokens[0], output_tokens=tokens[1])
        else:
            # Some compatible servers ignore `stream_options`; an estimate beats nothing.
            prompt = [message["content"] for message in arguments["messages"]]
            yield Usage(
                input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens(["".join(answer)])
            )

    async def aclose(self) -> None:
        await self._clients.aclose()

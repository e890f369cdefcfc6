"""`gemini` models through the `google-genai` SDK's async client."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Hashable

import pydantic
from django.conf import settings
from google import genai
from google.genai import errors, types

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
from .transport import TIMEOUTS, TRANSPORT_ERRORS, connection_dropped


def translate_error(error: Exception) -> ProviderError:
    if isinstance(error, errors.APIError):
        status = error.code if isinstance(error.code, int) else 500
        return error_for_status(status, f"HTTP {status}: {error.status or ''} {error.message or ''}".strip())
    if isinstance(error, TIMEOUTS):
        return ProviderTimeout("The model did not answer in time.")
    if isinstance(error, TRANSPORT_ERRORS):
        lost = ProviderConnectionLost if connection_dropped(error) else ProviderUnavailable
        return lost(f"Could not reach the model: {type(error).__name__}: {error}")
    if isinstance(error, errors.UnknownApiResponseError | pydantic.ValidationError):
        return ProviderBadResponse(f"Malformed chunk: {error}")
    return ProviderUnavailable(f"{type(error).__name__}: {error}")


_HANDLED = (errors.APIError, errors.UnknownApiResponseError, pydantic.ValidationError, *TRANSPORT_ERRORS)


async def _close(client: genai.Client) -> None:
    await client.aio.aclose()
    client.close()
    # The SDK leaves a client it was given to its owner.
    own_client = client._api_client._http_options.httpx_async_client
    if own_client is not None:
        await own_client.aclose()


def _new_client(key: tuple[Hashable, ...]) -> genai.Client:
    api_key, base_url, timeout_seconds, guarded = key
    options = types.HttpOptions(
        base_url=base_url,
        timeout=math.ceil(timeout_seconds * 1000),
        # A user-set URL: every connection goes through the address check.
        httpx_async_client=guarded_async_client(timeout=timeout_seconds) if guarded else None,
    )
    # vertexai=False: environment variables must not reroute the bot to another API.
    return genai.Client(vertexai=False, api_key=api_key, http_options=options)


class GeminiProvider:
    def __init__(self) -> None:
        self._clients: ClientCache[genai.Client] = ClientCache(_new_client, _close)

    def _client(self, spec: ModelSpec) -> genai.Client:
        connection = connection_for(
            spec, platform_key=settings.GEMINI_API_KEY, platform_base_url=settings.GEMINI_BASE_URL
        )
        if not connection.api_key and not spec.base_url:
            raise ProviderUnavailable("GEMINI_API_KEY is not set.")
        return self._clients.get(connection.client_key(provider_timeout_seconds()))

    async def stream(self, spec: ModelSpec, request: ChatRequest) -> AsyncIterator[StreamItem]:
        client = self._client(spec)
        system_instruction = build_system_instruction(request)
        contents = [
            types.Content(
                role="model" if m.role == "assistant" else "user", parts=[types.Part(text=m.content)]
            )
            for m in conversation_messages(request)
        ]
        config = types.GenerateContentConfig(
            system_instruction=system_instruction,
            temperature=spec.temperature,
            max_output_tokens=spec.max_output_tokens,
            top_p=spec.top_p,
            stop_sequences=list(spec.stop) or None,
            # No tools are declared; skip the SDK's function-calling loop altogether.
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        finished = False
        usage = None
        answer: list[str] = []
        stream = None
        try:
            stream = await client.aio.models.generate_content_stream(
                model=spec.model_id, contents=contents, config=config
            )
            async for chunk in stream:
                if chunk.usage_metadata is not None:
                    usage = chunk.usage_metadata
                if chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason:
                    raise ProviderBadRequest(f"The prompt was blocked: {chunk.prompt_feedback.block_reason}")
                for candidate in (chunk.candidates or ())[:1]:
                    parts = candidate.content.parts if candidate.content is not None else None
                    for part in parts or ():
                        # Thought summaries are the model thinking aloud, not the answer.
                        if part.text and not part.thought:
                            answer.append(part.text)
                            yield TextDelta(part.text)
                    if candidate.finish_reason is not None:
                        finished = True
        except ProviderError:
            raise
        except _HANDLED as error:
            raise translate_error(error) from error
        finally:
            if stream is not None:
                await stream.aclose()

        if not finished:
            raise ProviderUnavailable("The stream ended before the answer was complete.")
        if usage is not None and usage.prompt_token_count is not None:
            # Thinking tokens are billed as output.
            output = (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
            yield Usage(input_tokens=usage.prompt_token_count, output_tokens=output)
        else:
            prompt = [system_instruction, *(m.content for m in conversation_messages(request))]
            yield Usage(
                input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens(["".join(answer)])
            )

    async def aclose(self) -> None:
        await self._clients.aclose()

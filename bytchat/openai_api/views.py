"""The OpenAI-compatible API: `GET models` and `POST chat/completions` over the chat engine.

Plain async views (not DRF): a streamed answer holds no thread, and errors before the
stream starts are rendered in OpenAI's shape by `errors.error_response`. Authentication is
an API key only (`Authorization: Bearer bc_...`): a key can chat and list its models and
nothing else, and the native API's tokens do not work here.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions

from bytchat.api.errors import describe_or_internal, errors_rendered_by
from bytchat.api.parsers import load_json
from bytchat.api.sse import sse_response
from bytchat.db import db_step
from bytchat.errors import NotFound
from bytchat.openai_api.errors import error_response, openai_error
from bytchat.openai_api.requests import CompletionRequest, completion_request
from chat import selectors
from chat.errors import BotNotInKeyScope, ChatFailed
from chat.models import ApiKey, Channel
from chat.services import api_keys, conversations, engine

# `store: true` starts a conversation per request; OpenAI clients cannot delete or archive
# them, so at the plan's limit the oldest active one is archived (kept), never deleted.
AT_LIMIT = conversations.AtLimit.ARCHIVE_OLDEST
DONE = b"data: [DONE]\n\n"


def _key(request: HttpRequest) -> ApiKey:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise exceptions.NotAuthenticated("Give your API key as 'Authorization: Bearer bc_...'.")
    return api_keys.api_key_authenticate(secret=secret.strip())


def _model(bot) -> dict[str, Any]:
    return {
        "id": str(bot.pk),
        "object": "model",
        "created": int(bot.created_at.timestamp()),
        "owned_by": "bytchat" if bot.owner_id is None else str(bot.owner_id),
        "name": bot.name_en or bot.name_es,
    }


def _require(request: HttpRequest, method: str) -> None:
    if request.method != method:
        raise exceptions.MethodNotAllowed(request.method)


@db_step
def _models(request: HttpRequest) -> dict[str, Any]:
    key = _key(request)
    return {"object": "list", "data": [_model(bot) for bot in selectors.api_key_bots(key=key)]}


@db_step
def _model_detail(request: HttpRequest, model_id: str) -> dict[str, Any]:
    key = _key(request)
    for bot in selectors.api_key_bots(key=key):
        if str(bot.pk) == model_id:
            return _model(bot)
    raise BotNotInKeyScope(f"The model '{model_id}' does not exist or this API key may not use it.")


@csrf_exempt
@errors_rendered_by(error_response)
async def model_list_view(request: HttpRequest) -> HttpResponse:
    _require(request, "GET")
    return JsonResponse(await sync_to_async(_models)(request))


@csrf_exempt
@errors_rendered_by(error_response)
async def model_detail_view(request: HttpRequest, model_id: str) -> HttpResponse:
    _require(request, "GET")
    return JsonResponse(await sync_to_async(_model_detail)(request, model_id))


# --- chat/completions -------------------------------------------------------------------
def _parse(request: HttpRequest) -> CompletionRequest:
    content_type = request.content_type or ""
    if content_type != "application/json":
        raise exceptions.UnsupportedMediaType(content_type or "none")
    return completion_request(load_json(request.body or b"{}", encoding=request.encoding or "utf-8"))


@db_step
def _prepare(
    request: HttpRequest, body: CompletionRequest | None, parse_error: Exception | None
) -> engine.Turn:
    """Authenticate first (no key: 401 whatever the body), then the body, the key's own
    limit and scope, then the engine's every limit, all in one database step."""
    key = _key(request)
    if parse_error is not None:
        raise parse_error
    api_keys.api_key_rate_check(key=key)
    api_keys.api_key_bot_check(key=key, bot_id=body.model)
    try:
        return engine.chat_prepare(
            user=key.user,
            bot_id=body.model,
            message=body.question,
            history=body.history,
            system_extra=body.system_extra,
            options=body.options,
            store=body.store,
            at_limit=AT_LIMIT,
            channel=Channel.OPENAI,
            api_key_id=key.pk,
        )
    except NotFound as exc:  # a bot the user cannot see, or no such bot
        raise BotNotInKeyScope(
            f"The model '{body.model}' does not exist or this API key may not use it."
        ) from exc


prepare = sync_to_async(_prepare)


def _citation(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": payload["index"],
        "document": payload["source_name"],
        "document_id": payload["document_id"],
        "pages": payload["page_numbers"],
        "snippet": payload["snippet"],
    }


def _finish_reason(turn: engine.Turn, body: CompletionRequest) -> str:
    limit = body.options.max_output_tokens
    outcome = turn.outcome
    if limit is not None and outcome is not None and outcome.output_tokens >= limit:
        return "length"
    return "stop"


def _usage(turn: engine.Turn) -> dict[str, int]:
    outcome = turn.outcome
    prompt = outcome.input_tokens if outcome else 0
    completion = outcome.output_tokens if outcome else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class _Answer:
    """What the engine's events say, gathered for the OpenAI shapes."""

    def __init__(self, turn: engine.Turn, body: CompletionRequest) -> None:
        self.turn = turn
        self.body = body
        self.id = f"chatcmpl-{turn.assistant_message_id.hex}"
        self.created = int(time.time())
        self.citations: list[dict[str, Any]] = []
        self.error: dict[str, Any] | None = None

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> bytes:
        data = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.body.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            **extra,
        }
        return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"

    def take(self, event: dict[str, Any]) -> str | None:
        """The text of a delta event; records citations and errors."""
        if event["type"] == "delta":
            return event["content"]
        if event["type"] == "citations":
            self.citations = [_citation(payload) for payload in event["citations"]]
        elif event["type"] == "error":
            self.error = event
        return None


def _failed() -> HttpResponse:
    return error_response(describe_or_internal(ChatFailed()))


async def _complete(turn: engine.Turn, body: CompletionRequest) -> HttpResponse:
    answer = _Answer(turn, body)
    parts: list[str] = []
    async for event in engine.chat_events(turn):
        text = answer.take(event)
        if text is not None:
            parts.append(text)
    if answer.error is not None:
        return _failed()
    return JsonResponse(
        {
            "id": answer.id,
            "object": "chat.completion",
            "created": answer.created,
            "model": body.model,
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(parts),
                        "refusal": None,
                        "citations": answer.citations,
                    },
                    "logprobs": None,
                    "finish_reason": _finish_reason(turn, body),
                }
            ],
            "usage": _usage(turn),
        }
    )


async def _stream(turn: engine.Turn, body: CompletionRequest) -> HttpResponse:
    """The response starts with the first piece of the answer: an answer no model could
    give is still a plain 502 (which the SDKs raise), not a broken stream."""
    answer = _Answer(turn, body)
    events = aiter(engine.chat_events(turn))
    first = None
    try:
        async for event in events:
            first = answer.take(event)
            if first is not None or answer.error is not None or event["type"] == "done":
                break
    except BaseException:
        await events.aclose()
        raise
    if answer.error is not None:
        async for _ in events:  # to its end: the failed run is recorded
            pass
        return _failed()

    async def chunks() -> AsyncIterator[bytes]:
        try:
            yield answer.chunk({"role": "assistant", "content": ""})
            if first:
                yield answer.chunk({"content": first})
            async for event in events:
                text = answer.take(event)
                if text is not None:
                    yield answer.chunk({"content": text})
                elif answer.error is not None:
                    break
            if answer.error is not None:  # the answer broke mid-way: OpenAI's in-stream error
                async for _ in events:
                    pass
                _, error = openai_error(describe_or_internal(ChatFailed()))
                yield b"data: " + json.dumps(error).encode() + b"\n\n"
                return
            yield answer.chunk({}, _finish_reason(turn, body), citations=answer.citations)
            if body.include_usage:
                usage = answer.chunk({}, None, usage=_usage(turn))
                # The usage chunk has no choices, as OpenAI sends it.
                data = json.loads(usage[6:])
                data["choices"] = []
                yield b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"
            yield DONE
        finally:
            # A client gone mid-answer: the engine stores what it has, marked incomplete.
            await events.aclose()

    return sse_response(chunks())


@csrf_exempt
@errors_rendered_by(error_response)
async def chat_completions_view(request: HttpRequest) -> HttpResponse:
    _require(request, "POST")
    body, parse_error = None, None
    try:
        body = _parse(request)
    except Exception as exc:  # reported after the key is checked
        parse_error = exc
    turn = await prepare(request, body, parse_error)
    return await (_stream if body.stream else _complete)(turn, body)


__all__ = ["chat_completions_view", "model_detail_view", "model_list_view"]

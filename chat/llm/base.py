"""The provider interface: what a model needs to answer, what it streams back, how it fails.

Nothing here touches Django models. The engine turns a bot, its model configs and the
retrieved knowledge into a `ChatRequest` and a list of `ModelSpec`s, and gets back an
async stream of `TextDelta`s ending with one `Usage`.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

ProviderName = Literal["local", "openai", "gemini", "openai_compatible"]
Language = Literal["es", "en"]
Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model a bot may answer with (a `ModelConfig` row, minus the database).

    `base_url` and `api_key` are the config's own (or its platform endpoint's, then
    `trusted_url`). Without a base URL the model is reached at the operator's endpoint for
    the provider, with the config's key or else the platform's. With one, only `api_key`
    goes there, and an untrusted URL is connected to through `bytchat.outbound`'s guard.
    """

    provider: str
    model_id: str
    base_url: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    config_id: str | None = None
    api_key: str | None = field(default=None, repr=False)
    trusted_url: bool = False
    # Passed through by the OpenAI-compatible API (`engine.GenerationOptions`).
    top_p: float | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Connection:
    """Where a provider sends a request, and with which key."""

    base_url: str | None
    api_key: str
    guarded: bool

    # Self-hosted servers (vLLM, Ollama, LM Studio) often need no key, but the SDKs want one.
    PLACEHOLDER_API_KEY: ClassVar[str] = "not-needed"

    def client_key(self, timeout_seconds: float) -> tuple[str, str | None, float, bool]:
        """What an SDK client is built from, and cached by."""
        return (self.api_key or self.PLACEHOLDER_API_KEY, self.base_url, timeout_seconds, self.guarded)


def connection_for(spec: ModelSpec, *, platform_key: str, platform_base_url: str | None) -> Connection:
    """The one rule for keys: a platform key goes only to the operator's URL for it, a
    config's own URL gets the config's own key (or none), and a user-set URL is guarded."""
    if spec.base_url:
        return Connection(spec.base_url, spec.api_key or "", guarded=not spec.trusted_url)
    return Connection(platform_base_url or None, spec.api_key or platform_key, guarded=False)


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Source:
    """A retrieved knowledge chunk, numbered so that the answer can cite it as `[index]`."""

    index: int
    text: str
    source_name: str
    page_numbers: Sequence[int] = ()
    document_id: str | None = None
    score: float = 0.0
    # Which knowledge retriever found it: keyword, semantic or both.
    retriever: str = ""
    # The document's metadata (program, year, ...), for citations.
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything a provider sends to a model. `messages` ends with the user's question."""

    system_prompt: str
    messages: Sequence[ChatMessage]
    sources: Sequence[Source] = ()
    # The bot's language (the offline `local` provider quotes its documents in it) and the
    # user's, which a model is asked to answer in; unset, the bot's.
    language: Language = "en"
    user_language: Language | None = None

    @property
    def question(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return ""


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int


StreamItem = TextDelta | Usage


# A word, a run of digits, one CJK character, or one other visible character.
_TOKEN_PIECES = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W\d_]+|\d+|[^\w\s]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def estimate_tokens(texts: Iterable[str]) -> int:
    """An offline estimate of what a BPE tokenizer (OpenAI's, Gemini's) counts, for when a
    provider reports no usage. tiktoken would need its vocabulary downloaded at run time.

    Words of up to eight letters are one token, longer ones one every four letters, digits go
    in groups of three, punctuation and each CJK character are one token apiece: closer to
    those tokenizers than a flat four tokens per three words, which counted no
    punctuation, numbers or CJK text at all."""
    tokens = 0
    for text in texts:
        for piece in _TOKEN_PIECES.findall(text):
            if piece.isdigit():
                tokens += math.ceil(len(piece) / 3)
            elif len(piece) <= 8 or _CJK.match(piece):
                tokens += 1
            else:
                tokens += math.ceil(len(piece) / 4)
    return tokens


class Provider(Protocol):
    """A model backend.

    `stream` is an async generator: it yields `TextDelta`s, then exactly one `Usage`, and
    raises only `ProviderError`s. (It is declared with `def` because calling an async
    generator function returns the iterator without awaiting anything.)
    """

    def stream(self, spec: ModelSpec, request: ChatRequest) -> AsyncIterator[StreamItem]: ...


class ProviderError(Exception):
    """A model could not answer. `code` is short and stable; it is stored on the run."""

    code: ClassVar[str] = "provider_error"
    # Messages end up on the run; a provider may echo a whole response body into one.
    max_message_chars: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        if len(message) > self.max_message_chars:
            message = f"{message[: self.max_message_chars - 1]}…"
        super().__init__(message)
        self.message = message


class ProviderUnavailable(ProviderError):
    """Connection refused or dropped, 5xx, a stream cut short, missing credentials."""

    code = "unavailable"


class ProviderConnectionLost(ProviderUnavailable):
    """The connection dropped under the request (`chat.llm.transport.connection_dropped`).
    Before the model's first text, failover asks the same model once more at once: most
    often the server had just closed the kept-alive connection the request went out on."""


class ProviderRateLimited(ProviderError):
    code = "rate_limited"


class ProviderBadRequest(ProviderError):
    """The provider refused the request (4xx): wrong model id, bad key, prompt too long."""

    code = "bad_request"


class ProviderTimeout(ProviderError):
    code = "timeout"


class ProviderBadResponse(ProviderError):
    """The provider answered with something that is not its protocol (malformed chunks)."""

    code = "bad_response"


def error_for_status(status: int, message: str) -> ProviderError:
    """The typed error for an HTTP status, shared by the SDK-backed providers."""
    if status == 429:
        return ProviderRateLimited(message)
    if status in (408, 504):
        return ProviderTimeout(message)
    if status >= 500:
        return ProviderUnavailable(message)
    return ProviderBadRequest(message)


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """A model that failed before its first delta, as the run records it."""

    provider: str
    model_id: str
    code: str
    message: str
    config_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The JSON form stored on the run."""
        return {
            "provider": self.provider,
            "model_id": self.model_id,
            "code": self.code,
            "message": self.message,
            "config_id": self.config_id,
        }


@dataclass(frozen=True, slots=True)
class ModelChosen:
    """Emitted once by the failover stream, just before the first delta."""

    spec: ModelSpec
    failed_attempts: tuple[FailedAttempt, ...] = field(default=())


class AllProvidersFailed(ProviderError):
    code = "all_failed"

    def __init__(self, failed_attempts: Sequence[FailedAttempt]) -> None:
        self.failed_attempts = tuple(failed_attempts)
        summary = "; ".join(
            f"{attempt.provider}/{attempt.model_id}: {attempt.code}" for attempt in self.failed_attempts
        )
        super().__init__(f"No model could answer ({summary or 'no model configured'}).")

"""Validation of a `POST chat/completions` body, as OpenAI's clients send it.

The fields Bytchat honours are read here; the ones that would change the answer in a way
it cannot honour (tools, several choices, log probabilities, JSON mode...) are refused
with a 400 naming the field, rather than silently ignored. Fields that do not change the
answer (`user`, `seed`, `metadata`...) are accepted and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bytchat.errors import InvalidInput
from bytchat.openai_api.errors import UnsupportedParameter
from chat.llm.base import ChatMessage
from chat.services.engine import GenerationOptions

MAX_STOP_SEQUENCES = 4
# Refused when present with a value other than these "off" ones.
_UNSUPPORTED: dict[str, tuple[Any, ...]] = {
    "tools": (None, []),
    "tool_choice": (None, "none"),
    "functions": (None, []),
    "function_call": (None, "none"),
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "logit_bias": (None, {}),
    "audio": (None,),
    "prediction": (None,),
    "web_search_options": (None,),
    "frequency_penalty": (None, 0, 0.0),
    "presence_penalty": (None, 0, 0.0),
}
_SYSTEM_ROLES = ("system", "developer")


@dataclass(frozen=True)
class CompletionRequest:
    model: str
    question: str
    history: list[ChatMessage]
    system_extra: str
    stream: bool
    include_usage: bool
    store: bool
    options: GenerationOptions


def _invalid(param: str, message: str) -> InvalidInput:
    return InvalidInput("Invalid request.", fields={param: [message]})


def _number(data: dict, name: str, low: float, high: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _invalid(name, f"Must be a number from {low:g} to {high:g}.")
    return float(value)


def _positive_int(data: dict, name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _invalid(name, "Must be an integer of at least 1.")
    return value


def _bool(data: dict, name: str) -> bool:
    value = data.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _invalid(name, "Must be true or false.")
    return value


def _text(content: Any, param: str) -> str:
    """A message's content: a string, or a list of text parts (OpenAI's content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise UnsupportedParameter(
                    "Only text content is supported.",
                    fields={param: ["Only parts of type 'text' are supported."]},
                )
            texts.append(part["text"])
        return "".join(texts)
    raise _invalid(param, "Must be a string or a list of text parts.")


def _messages(raw: Any) -> tuple[str, list[ChatMessage], str]:
    if not isinstance(raw, list) or not raw:
        raise _invalid("messages", "Give a non-empty list of messages.")
    system: list[str] = []
    turns: list[ChatMessage] = []
    for number, message in enumerate(raw):
        param = f"messages[{number}]"
        if not isinstance(message, dict):
            raise _invalid(param, "Each message must be an object.")
        role = message.get("role")
        if role in ("tool", "function"):
            raise UnsupportedParameter("Tool messages are not supported.", fields={f"{param}.role": [role]})
        if role not in (*_SYSTEM_ROLES, "user", "assistant"):
            raise _invalid(f"{param}.role", "Must be one of system, developer, user, assistant.")
        if message.get("tool_calls"):
            raise UnsupportedParameter(
                "Tool calls are not supported.", fields={f"{param}.tool_calls": ["Not supported."]}
            )
        content = message.get("content")
        text = "" if content is None and role == "assistant" else _text(content, f"{param}.content")
        if role in _SYSTEM_ROLES:
            system.append(text)
        else:
            turns.append(ChatMessage(role=role, content=text))
    if not turns or turns[-1].role != "user":
        raise _invalid("messages", "The last non-system message must be the user's.")
    return turns[-1].content, turns[:-1], "\n\n".join(part for part in system if part.strip())


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or len(value) > MAX_STOP_SEQUENCES
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise _invalid("stop", f"Give a string or a list of up to {MAX_STOP_SEQUENCES} non-empty strings.")
    return tuple(value)


def completion_request(data: Any) -> CompletionRequest:
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.")
    for name, allowed in _UNSUPPORTED.items():
        if name in data and data[name] not in allowed:
            raise UnsupportedParameter(
                f"'{name}' is not supported.", fields={name: ["Not supported by Bytchat."]}
            )
    n = data.get("n")
    if n not in (None, 1):
        raise UnsupportedParameter("Only one choice (n = 1) is supported.", fields={"n": ["Must be 1."]})
    response_format = data.get("response_format")
    if response_format not in (None, {"type": "text"}):
        raise UnsupportedParameter(
            "Only text responses are supported.", fields={"response_format": ["Only {'type': 'text'}."]}
        )
    modalities = data.get("modalities")
    if modalities not in (None, ["text"]):
        raise UnsupportedParameter(
            "Only text output is supported.", fields={"modalities": ["Only ['text']."]}
        )
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _invalid("model", "Name the model (a bot's id, from GET models).")
    question, history, system_extra = _messages(data.get("messages"))
    stream = _bool(data, "stream")
    stream_options = data.get("stream_options")
    if stream_options is not None and (not isinstance(stream_options, dict) or not stream):
        raise _invalid("stream_options", "Only with stream: true, as an object.")
    include_usage = bool((stream_options or {}).get("include_usage"))
    max_tokens = _positive_int(data, "max_completion_tokens")
    if max_tokens is None:
        max_tokens = _positive_int(data, "max_tokens")
    options = GenerationOptions(
        temperature=_number(data, "temperature", 0, 2),
        top_p=_number(data, "top_p", 0, 1),
        max_output_tokens=max_tokens,
        stop=_stop(data.get("stop")),
    )
    return CompletionRequest(
        model=model.strip(),
        question=question,
        history=history,
        system_extra=system_extra,
        stream=stream,
        include_usage=include_usage,
        store=_bool(data, "store"),
        options=options,
    )

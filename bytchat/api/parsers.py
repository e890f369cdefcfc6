"""Reading JSON request bodies, for every API surface: DRF's parser and the plain async
views (bytchat.api.async_views) both go through `load_json`."""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers

# No request of any API nests deeper than a handful of levels. Past this, a body is refused
# before any code walks it: serializers, error rendering and the JSON encoder all recurse.
MAX_JSON_DEPTH = 32


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999999: no field takes it, and no JSON encoder writes it back
        raise ValueError(f"Number out of range: {text[:20]}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than `limit`, walked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def load_json(raw: bytes | str, *, encoding: str = "utf-8") -> Any:
    """A JSON body as Python data, or ParseError (400) for anything that is not plain,
    reasonably shaped JSON: invalid syntax or encoding, NaN/Infinity, numbers out of
    range (integers past Python's digit limit, floats that overflow), or nesting deeper
    than MAX_JSON_DEPTH. Never RecursionError: the C decoder raises it on a thousand `[`."""
    try:
        text = raw.decode(encoding) if isinstance(raw, bytes) else raw
        data = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError as exc:
        raise exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except (ValueError, UnicodeDecodeError, LookupError) as exc:
        raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
    if _depth_exceeds(data, MAX_JSON_DEPTH):
        raise exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
    return data


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser reads the stream directly, past Django's body size check;
    this one holds JSON bodies to DATA_UPLOAD_MAX_MEMORY_SIZE, and reads them with
    `load_json`."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        read_size = -1 if limit is None else limit + 1
        raw = stream.read(read_size) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        return load_json(raw, encoding=encoding)

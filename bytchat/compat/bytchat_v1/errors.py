"""Bytchat v1's error body: FastAPI's `{"detail": "..."}` (see bytchat.compat.errors).

Statuses and messages come from `bytchat.api.errors.describe_or_internal`, as on every
surface; this module only writes them the way v1 clients read them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.http import JsonResponse

from bytchat.api.errors import ApiError, errors_rendered_by, exception_handler_rendered_by
from bytchat.compat.errors import detail_error_response

# The message every validation error carries when the fields say what is wrong.
GENERIC_MESSAGES = {"Invalid input."}


def _field_messages(fields: Any, path: str = "") -> list[str]:
    """`{"initial_configs": [{"provider": ["..."]}]}` as `["initial_configs.0.provider: ..."]`."""
    if isinstance(fields, dict):
        return [
            line
            for name, value in fields.items()
            for line in _field_messages(value, f"{path}.{name}" if path else str(name))
        ]
    if isinstance(fields, list) and any(isinstance(item, (dict, list)) for item in fields):
        return [
            line
            for index, item in enumerate(fields)
            for line in _field_messages(item, f"{path}.{index}" if path else str(index))
        ]
    messages = fields if isinstance(fields, list) else [fields]
    text = " ".join(str(message) for message in messages if message)
    if not text:
        return []
    return [f"{path}: {text}" if path and path != "non_field_errors" else text]


def error_response(error: ApiError) -> JsonResponse:
    """`{"detail": "..."}`. A validation error names its fields in the one string v1 has;
    a 401 asks for a Bearer token, as FastAPI's OAuth2 scheme does."""
    message = error.message
    if error.fields and message in GENERIC_MESSAGES:
        message = "; ".join(_field_messages(error.fields)) or message
    response = detail_error_response(dataclasses.replace(error, message=message))
    if error.status == 401 and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = "Bearer"
    return response


# The DRF views' exception handler, and the plain async views' errors before a stream starts.
exception_handler = exception_handler_rendered_by(error_response)
v1_errors = errors_rendered_by(error_response)

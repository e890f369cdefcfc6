"""The OpenAI-compatible API's errors, in OpenAI's own shape:
`{"error": {"message", "type", "param", "code"}}`.

Every error of this mount (raised in a view, or by Django outside one) is described by
`bytchat.api.errors.describe_or_internal` and rendered here, so the `openai` SDKs raise
their own exception types (AuthenticationError, NotFoundError, RateLimitError, ...).
"""

from __future__ import annotations

from django.http import JsonResponse

from bytchat.api.errors import ApiError
from bytchat.errors import InvalidInput


class UnsupportedParameter(InvalidInput):
    """A request field that would change the answer in a way this API cannot honour."""

    code = "UNSUPPORTED_PARAMETER"


# Bytchat code -> (status or None to keep, OpenAI type, OpenAI code, param)
_BY_CODE: dict[str, tuple[int | None, str, str | None, str | None]] = {
    "INVALID_API_KEY": (401, "invalid_request_error", "invalid_api_key", None),
    "UNAUTHORIZED": (401, "invalid_request_error", "invalid_api_key", None),
    "MODEL_NOT_FOUND": (404, "invalid_request_error", "model_not_found", "model"),
    "RATE_LIMIT_EXCEEDED": (429, "requests", "rate_limit_exceeded", None),
    "API_KEY_RATE_LIMIT": (429, "requests", "rate_limit_exceeded", None),
    "TOKEN_QUOTA_EXCEEDED": (429, "insufficient_quota", "insufficient_quota", None),
    "CHAT_FAILED": (502, "api_error", "model_unavailable", None),
    "UNSUPPORTED_PARAMETER": (400, "invalid_request_error", "unsupported_parameter", None),
    "VALIDATION_ERROR": (400, "invalid_request_error", None, None),
    "MALFORMED_REQUEST": (400, "invalid_request_error", None, None),
    "INTERNAL_ERROR": (500, "server_error", None, None),
}


def openai_error(error: ApiError) -> tuple[int, dict]:
    status, kind, code, param = _BY_CODE.get(error.code, (None, "", None, None))
    status = status or error.status
    if not kind:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        code = error.code.lower()
    if param is None and error.fields:
        param = next(iter(error.fields))
    message = error.message
    if error.fields and error.code in ("VALIDATION_ERROR", "UNSUPPORTED_PARAMETER"):
        details = "; ".join(
            f"{name}: {' '.join(str(item) for item in value) if isinstance(value, list) else value}"
            for name, value in error.fields.items()
        )
        message = f"{message} {details}"
    return status, {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(error: ApiError) -> JsonResponse:
    status, body = openai_error(error)
    response = JsonResponse(body, status=status)
    for name, value in error.headers.items():
        response[name] = value
    return response

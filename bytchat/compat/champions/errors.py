"""The Champions API's error body, `{"detail": {"error": "...", "code": "..."}}`, with its
documented codes and statuses.

Every error is described once, by `bytchat.api.errors.describe_or_internal`, from the same
domain exceptions as the native API; `CODES` below is the one place where a native code
becomes the code (and status) the Champions document promises. Codes not listed keep
their native name and status (VALIDATION_ERROR, EMAIL_DOMAIN_NOT_ALLOWED, ...).
"""

from __future__ import annotations

from dataclasses import replace

from django.http import JsonResponse

from bytchat.api.errors import ApiError, exception_handler_rendered_by
from bytchat.compat.errors import detail_code_response
from bytchat.errors import InvalidInput

# native code -> (documented code, documented status)
CODES: dict[str, tuple[str, int]] = {
    "INVALID_CREDENTIALS": ("UNAUTHORIZED", 401),
    "ACCOUNT_SUSPENDED": ("FORBIDDEN", 403),
    # Champions answered its conversation rules with 400, the native API with 409.
    "CONVERSATION_ARCHIVED": ("CONVERSATION_ARCHIVED", 400),
    "MESSAGE_LIMIT": ("MESSAGE_LIMIT", 400),
    "CONVERSATION_LIMIT": ("CONVERSATION_LIMIT", 400),
    # Champions has no "delete the oldest to make room" confirmation: it is a limit.
    "CONVERSATION_LIMIT_PER_BOT": ("CONVERSATION_LIMIT", 400),
    "TOKEN_QUOTA_EXCEEDED": ("RATE_LIMIT_EXCEEDED", 429),
    "CHAT_FAILED": ("CHAT_FAILED", 500),
}


def _readable(error: ApiError) -> str:
    """A generic "Invalid input." spelled out from its per-field messages, since the body
    has room for one string only. A specific message stays as it is."""
    if not error.fields or error.message != InvalidInput.default_message:
        return error.message
    parts = []
    for name, messages in error.fields.items():
        text = messages[0] if isinstance(messages, list) and messages else str(messages)
        parts.append(text if name == "non_field_errors" else f"{name}: {text}")
    return "; ".join(parts)


def champions_error(error: ApiError) -> ApiError:
    """The native description, in the Champions document's code and status."""
    code, status = CODES.get(error.code, (error.code, error.status))
    return replace(error, code=code, status=status, message=_readable(error))


def error_response(error: ApiError) -> JsonResponse:
    """The renderer settings.API_ERROR_FORMATS names for this mount (errors outside views)."""
    return detail_code_response(champions_error(error))


# DRF exception handler of every Champions view.
exception_handler = exception_handler_rendered_by(error_response)

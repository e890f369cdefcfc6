"""The MagicAI API's errors: `{"message": "..."}` (plus `errors` per field on a 400), with
the status codes its document lists. Every MagicAI view and the middleware answer through
`error_response`, so this is the one place where codes and statuses are mapped."""

from __future__ import annotations

from django.http import HttpResponse

from bytchat.api.errors import ApiError, exception_handler_rendered_by
from bytchat.compat.errors import message_error_response

# MagicAI answers a broken rule (a message limit reached, a conversation that belongs to
# another agent...) with 400; its document has no 409.
_STATUSES = {409: 400}


def _readable(error: ApiError) -> str:
    """A validation failure names its first problem instead of a bare "Invalid input."."""
    if error.status != 400 or not error.fields or error.message != "Invalid input.":
        return error.message
    name, problems = next(iter(error.fields.items()))
    first = problems[0] if isinstance(problems, list) and problems else problems
    if isinstance(first, dict):  # a nested serializer's errors
        return error.message
    return f"{first}" if name == "non_field_errors" else f"{name}: {first}"


def error_response(error: ApiError) -> HttpResponse:
    status = _STATUSES.get(error.status, error.status)
    mapped = ApiError(status, error.code, _readable(error), error.fields, error.extra, error.headers)
    return message_error_response(mapped)


# DRF exception handler for the MagicAI views.
exception_handler = exception_handler_rendered_by(error_response)


__all__ = ["error_response", "exception_handler"]

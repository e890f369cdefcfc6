"""One error envelope for the native API.

`describe_exception` turns any exception into an `ApiError` (status, code, message,
per-field messages); the native API wraps it as ``{"error": {...}}`` and the
compatibility APIs wrap the same description in their own documented formats.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, HttpResponse, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from bytchat.errors import DomainError

logger = logging.getLogger(__name__)


@dataclass
class ApiError:
    status: int
    code: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def envelope(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields, **self.extra}}


def _plain(detail: Any) -> Any:
    """DRF's nested ErrorDetail structures as plain JSON: dicts of lists of strings."""
    if isinstance(detail, dict):
        return {str(key): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [str(item) for item in detail]
        return [_plain(item) for item in detail]
    return [str(detail)]


def _message(detail: Any) -> str:
    """The human sentence of a DRF detail. Some libraries raise with a dict detail
    (simplejwt: `{"detail": "User is inactive", "code": "user_inactive"}`), which `str()`
    writes as a Python repr."""
    if isinstance(detail, dict):
        if "detail" in detail:
            return _message(detail["detail"])
        return " ".join(_message(value) for value in detail.values())
    if isinstance(detail, list):
        return " ".join(_message(item) for item in detail)
    return str(detail)


_DRF_CODES: list[tuple[type[Exception], int, str]] = [
    (drf.ParseError, 400, "MALFORMED_REQUEST"),
    (drf.NotAuthenticated, 401, "UNAUTHORIZED"),
    (drf.AuthenticationFailed, 401, "UNAUTHORIZED"),
    (drf.PermissionDenied, 403, "FORBIDDEN"),
    (drf.NotFound, 404, "NOT_FOUND"),
    (drf.MethodNotAllowed, 405, "METHOD_NOT_ALLOWED"),
    (drf.NotAcceptable, 406, "NOT_ACCEPTABLE"),
    (drf.UnsupportedMediaType, 415, "UNSUPPORTED_MEDIA_TYPE"),
]


def describe_exception(exc: Exception) -> ApiError | None:
    """The client-facing description of an exception, or None for an unexpected one."""
    if isinstance(exc, DomainError):
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
        return ApiError(exc.status_code, exc.code, exc.message, exc.fields, exc.extra, headers)
    if isinstance(exc, (InvalidToken, TokenError)):
        return ApiError(401, "UNAUTHORIZED", "The token is invalid, expired or revoked.")
    if isinstance(exc, drf.ValidationError):
        detail = exc.detail
        fields = _plain(detail) if isinstance(detail, dict) else {"non_field_errors": _plain(detail)}
        return ApiError(400, "VALIDATION_ERROR", "Invalid input.", fields)
    if isinstance(exc, drf.Throttled):
        wait = max(1, int(exc.wait or 1))
        return ApiError(
            429,
            "RATE_LIMIT_EXCEEDED",
            f"Too many requests. Try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    for exc_class, status, code in _DRF_CODES:
        if isinstance(exc, exc_class):
            return ApiError(status, code, _message(exc.detail))
    if isinstance(exc, drf.APIException):
        return ApiError(exc.status_code, exc.default_code.upper(), _message(exc.detail))
    if isinstance(exc, Http404):
        return ApiError(404, "NOT_FOUND", "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return ApiError(403, "FORBIDDEN", "You do not have permission to perform this action.")
    if isinstance(exc, RequestDataTooBig):
        return ApiError(413, "PAYLOAD_TOO_LARGE", "The request body is too large.")
    if isinstance(exc, TooManyFieldsSent):
        return ApiError(400, "MALFORMED_REQUEST", "The request has too many fields.")
    return None


INTERNAL_ERROR = ApiError(500, "INTERNAL_ERROR", "An unexpected error occurred. It has been logged.")


def describe_or_internal(exc: Exception) -> ApiError:
    described = describe_exception(exc)
    if described is None:
        logger.exception("Unhandled API error", exc_info=exc)
        return INTERNAL_ERROR
    return described


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF exception handler for the native API: every error in the envelope."""
    error = describe_or_internal(exc)
    return Response(error.envelope(), status=error.status, headers=error.headers)


ErrorRenderer = Callable[[ApiError], HttpResponse]


@functools.cache
def _error_formats() -> list[tuple[str, ErrorRenderer]]:
    from django.conf import settings
    from django.utils.module_loading import import_string

    formats = [("/" + prefix, import_string(renderer)) for prefix, renderer in settings.API_ERROR_FORMATS]
    # The longest prefix wins: a compat API mounted at "api/" still leaves "/api/v1/" native.
    return sorted(formats, key=lambda item: len(item[0]), reverse=True)


def error_renderer_for(path: str) -> ErrorRenderer | None:
    """How errors are written under `path` (each API surface has its documented format),
    or None outside every API (the admin, the web panel: Django's own pages)."""
    for prefix, renderer in _error_formats():
        if path.startswith(prefix):
            return renderer
    return None


def json_error_response(error: ApiError) -> JsonResponse:
    response = JsonResponse(error.envelope(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def errors_rendered_by(render: ErrorRenderer):
    """Decorator for the plain `async def` views (the streaming endpoints, which do not run
    through DRF): an error raised before the response exists, before a stream starts,
    answers in the surface's documented format, written by `render`. Once a stream has
    started, errors are events of the stream (chat.services.engine)."""

    def decorate(view):
        @functools.wraps(view)
        async def wrapper(request, *args, **kwargs) -> HttpResponse:
            try:
                return await view(request, *args, **kwargs)
            except Exception as exc:
                return render(describe_or_internal(exc))

        wrapper.error_renderer = render
        return wrapper

    return decorate


def exception_handler_rendered_by(
    render: ErrorRenderer,
) -> Callable[[Exception, dict[str, Any]], HttpResponse]:
    """A DRF exception handler (DRF accepts any HttpResponse) that answers in `render`'s format."""

    def handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
        return render(describe_or_internal(exc))

    return handler

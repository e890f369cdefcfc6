"""OpenAPI for the native API: the error envelope, and the error answers of every operation.

Which errors an operation can answer is derived here, in one place, from what the view
is made of, so the schema cannot drift from the views:

- 400 when it reads a body or query parameters (or pages with a cursor);
- 401 when it authenticates a Bearer token;
- 403 when a permission asks for more than being logged in;
- 404 when its path names an object (an id);
- 413 and 415 when it reads a body;
- 429 when it is throttled;
- plus the typed domain errors its service raises, declared on the view method with
  `@raises(...)`; each status lists the error codes it can carry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated

from bytchat.errors import DomainError

# A field's messages: a list of strings; a nested object's or a list's item errors nest.
_FIELD_ERRORS_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "array", "items": {"type": "string"}},
        {
            "type": "array",
            "description": "Per-item errors of a list field, in item order.",
            "items": {"anyOf": [{"type": "object", "additionalProperties": True}, {"type": "array"}]},
        },
        {
            "type": "object",
            "description": "Per-field errors of a nested object, or per-index errors of a list.",
            "additionalProperties": True,
        },
    ]
}


@extend_schema_field({"type": "object", "additionalProperties": _FIELD_ERRORS_SCHEMA})
class FieldErrorsField(serializers.DictField):
    pass


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="An uppercase constant, e.g. NOT_FOUND.")
    message = serializers.CharField()
    fields = FieldErrorsField(
        help_text="Per-field messages for VALIDATION_ERROR (nested for nested fields); empty otherwise. "
        "Some errors add keys of their own next to these (e.g. `requires_confirmation`)."
    )


class ErrorEnvelopeSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


_DESCRIPTIONS = {
    400: "Invalid input.",
    401: "Missing, invalid, expired or revoked credentials.",
    403: "Not allowed for this user.",
    404: "Not found, or not yours.",
    409: "Conflicts with the current state.",
    413: "Body too large.",
    415: "Unsupported content type.",
    429: "Rate limited; see Retry-After.",
    502: "No upstream model could answer.",
}

# The codes that the framework itself answers with, per status (bytchat.api.errors).
_GENERIC_CODES = {
    400: ("VALIDATION_ERROR", "MALFORMED_REQUEST"),
    401: ("UNAUTHORIZED",),
    403: ("FORBIDDEN",),
    404: ("NOT_FOUND",),
    413: ("PAYLOAD_TOO_LARGE",),
    415: ("UNSUPPORTED_MEDIA_TYPE",),
    429: ("RATE_LIMIT_EXCEEDED",),
}


def error_response(status: int, codes: Iterable[str] = ()) -> OpenApiResponse:
    listed = ", ".join(dict.fromkeys(codes))
    description = _DESCRIPTIONS.get(status, "Error.") + (f" Codes: {listed}." if listed else "")
    return OpenApiResponse(ErrorEnvelopeSerializer, description=description)


class LenientParameter(OpenApiParameter):
    """A query parameter the view ignores when it is not valid (it falls back to a default),
    so it never causes a 400."""


Function = TypeVar("Function", bound=Callable[..., Any])


def raises(*errors: type[DomainError]) -> Callable[[Function], Function]:
    """Declare the typed domain errors a view method's service can raise, for the schema."""

    def declare(function: Function) -> Function:
        function.domain_errors = (*getattr(function, "domain_errors", ()), *errors)  # type: ignore[attr-defined]
        return function

    return declare


_BODY_METHODS = {"POST", "PUT", "PATCH"}
_LOGGED_IN_ONLY = (AllowAny, IsAuthenticated)


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, with the error answers derived from the view."""

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status, codes in self.error_codes(lists=self._is_list_view()).items():
            if str(status) not in responses:
                response = error_response(status, codes)
                body = self._get_response_for_code(response.response, str(status), direction=direction)
                responses[str(status)] = {**body, "description": response.description}
        return responses

    def _reads_body(self) -> bool:
        return self.method in _BODY_METHODS and self.get_request_serializer() is not None

    def _pages(self, lists: bool) -> bool:
        return lists and self._get_paginator() is not None

    def _reads_query(self, lists: bool) -> bool:
        if self._pages(lists):
            return True
        return any(
            getattr(parameter, "location", "query") == "query" and not isinstance(parameter, LenientParameter)
            for parameter in self.get_override_parameters()
        )

    def _domain_errors(self) -> tuple[type[DomainError], ...]:
        handler = getattr(self.view, self.method.lower(), None)
        return getattr(handler, "domain_errors", ())

    def error_codes(self, *, lists: bool) -> dict[int, list[str]]:
        codes: dict[int, list[str]] = {}

        def add(status: int, *names: str) -> None:
            codes.setdefault(status, []).extend(names)

        if self._reads_body():
            add(400, *_GENERIC_CODES[400])
            add(413, *_GENERIC_CODES[413])
            add(415, *_GENERIC_CODES[415])
        if self._reads_query(lists):
            add(400, "VALIDATION_ERROR", *(["INVALID_CURSOR"] if self._pages(lists) else []))
        if self.view.get_authenticators():
            add(401, *_GENERIC_CODES[401])
        if any(not isinstance(permission, _LOGGED_IN_ONLY) for permission in self.view.get_permissions()):
            add(403, *_GENERIC_CODES[403])
        if "{" in self.path:
            add(404, *_GENERIC_CODES[404])
        if self.view.get_throttles():
            add(429, *_GENERIC_CODES[429])
        for error in self._domain_errors():
            add(error.status_code, error.code)
        return {status: list(dict.fromkeys(names)) for status, names in sorted(codes.items())}


def native_api_only(endpoints: list[tuple], **kwargs: Any) -> list[tuple]:
    """Preprocessing hook: the public schema describes the native API only. The panel's
    JSON endpoints under /app/api/ serve its own pages (session and CSRF, HTML errors)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]

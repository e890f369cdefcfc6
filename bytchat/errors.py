"""Typed domain errors raised by services.

Every error carries the HTTP status and the uppercase code that the API surfaces report;
one exception handler per surface turns them into that surface's error body, so a service
never knows which API called it.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code: int = 400
    code: str = "BAD_REQUEST"
    default_message: str = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.fields = fields or {}
        self.extra = extra or {}
        self.retry_after = retry_after
        super().__init__(self.message)


class InvalidInput(DomainError):
    status_code = 400
    code = "VALIDATION_ERROR"
    default_message = "Invalid input."


class NotFound(DomainError):
    status_code = 404
    code = "NOT_FOUND"
    default_message = "Not found."


class Forbidden(DomainError):
    status_code = 403
    code = "FORBIDDEN"
    default_message = "You do not have permission to perform this action."


class Conflict(DomainError):
    status_code = 409
    code = "CONFLICT"
    default_message = "The request conflicts with the current state."


class RateLimited(DomainError):
    status_code = 429
    code = "RATE_LIMIT_EXCEEDED"
    default_message = "Too many requests. Try again later."

"""Keeps Django's HTML error pages away from API clients: each API surface answers in its
own documented error format (settings.API_ERROR_FORMATS).

DRF views already answer in the envelope; this catches what happens outside them: an
unknown URL, a body Django refuses before DRF sees it, or an exception that escapes a
plain Django view (the streaming endpoints), in DEBUG or not.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from bytchat.api.errors import (
    INTERNAL_ERROR,
    ApiError,
    describe_or_internal,
    error_renderer_for,
)

_STATUS_CODES = {
    400: ("MALFORMED_REQUEST", "The request could not be read."),
    401: ("UNAUTHORIZED", "Authentication credentials were not provided."),
    403: ("FORBIDDEN", "You do not have permission to perform this action."),
    404: ("NOT_FOUND", "Not found."),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed."),
    413: ("PAYLOAD_TOO_LARGE", "The request body is too large."),
}


def _as_envelope(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if response.status_code < 400:
        return response
    render = error_renderer_for(request.path)
    if render is None or response.get("Content-Type", "").startswith("application/json"):
        return response
    if response.status_code >= 500:
        return render(INTERNAL_ERROR)
    code, message = _STATUS_CODES.get(response.status_code, ("ERROR", "The request failed."))
    return render(ApiError(response.status_code, code, message))


class ApiErrorMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return _as_envelope(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest):
        return _as_envelope(request, await self.get_response(request))

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        render = error_renderer_for(request.path)
        if render is None:
            return None
        return render(describe_or_internal(exception))

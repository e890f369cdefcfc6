"""Error bodies shared by more than one compatibility API.

Every surface describes an error the same way (`bytchat.api.errors.ApiError`, from the
same domain exceptions); only the body differs.
"""

from __future__ import annotations

from django.http import JsonResponse

from bytchat.api.errors import ApiError


def _with_headers(response: JsonResponse, error: ApiError) -> JsonResponse:
    for name, value in error.headers.items():
        response[name] = value
    return response


def detail_error_response(error: ApiError) -> JsonResponse:
    """FastAPI's `{"detail": "..."}`, as Bytchat v1 answered."""
    return _with_headers(JsonResponse({"detail": error.message}, status=error.status), error)


def error_message_response(error: ApiError) -> JsonResponse:
    """`{"error": "..."}`, as ESCOMBOT answered."""
    return _with_headers(JsonResponse({"error": error.message}, status=error.status), error)


def detail_code_response(error: ApiError) -> JsonResponse:
    """`{"detail": {"error": "...", "code": "..."}}`, as Champions answered."""
    body = {"detail": {"error": error.message, "code": error.code}}
    return _with_headers(JsonResponse(body, status=error.status), error)


def message_error_response(error: ApiError) -> JsonResponse:
    """`{"message": "..."}`, as MagicAI answered (its success bodies say `message` too),
    with the per-field messages under `errors` when a request did not validate."""
    body: dict = {"message": error.message}
    if error.fields:
        body["errors"] = error.fields
    return _with_headers(JsonResponse(body, status=error.status), error)

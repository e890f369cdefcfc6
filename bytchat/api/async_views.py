"""Pieces for the plain `async def` API views (the streaming endpoints), which do not run
through DRF: JWT authentication, JSON body parsing and the error envelope."""

from __future__ import annotations

import functools
import json
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.serializers import Serializer

from accounts.authentication import JWTAuthentication
from bytchat.api.errors import describe_or_internal, json_error_response
from bytchat.db import db_step


@db_step
def _authenticate(request: HttpRequest):
    result = JWTAuthentication().authenticate(request)
    if result is None:
        raise exceptions.NotAuthenticated()
    return result[0]


async def authenticate(request: HttpRequest):
    """The user of a Bearer token, or NotAuthenticated / AuthenticationFailed."""
    return await sync_to_async(_authenticate)(request)


def parse_json(request: HttpRequest, serializer_class: type[Serializer]) -> dict[str, Any]:
    content_type = request.content_type or ""
    if content_type != "application/json":
        raise exceptions.UnsupportedMediaType(content_type or "none")
    try:
        # request.body raises RequestDataTooBig (413) past DATA_UPLOAD_MAX_MEMORY_SIZE.
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def api_errors(view):
    """Errors raised before a stream starts answer in the native error envelope."""

    @functools.wraps(view)
    async def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return await view(request, *args, **kwargs)
        except Exception as exc:
            return json_error_response(describe_or_internal(exc))

    return wrapper

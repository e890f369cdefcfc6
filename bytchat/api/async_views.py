"""Pieces for the plain `async def` API views (the streaming endpoints), which do not run
through DRF: authentication (the native API's, from DRF's settings), JSON body parsing
and the error envelope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.serializers import Serializer
from rest_framework.settings import api_settings

from bytchat.api.errors import errors_rendered_by, json_error_response
from bytchat.api.parsers import load_json
from bytchat.db import db_step


def request_user(request: HttpRequest):
    """The user of a Bearer token, or NotAuthenticated / AuthenticationFailed (sync).

    The authenticators are the native API's (`REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]`,
    accounts' JWT), named in the settings rather than imported: this module sits below the
    domain apps, which import it."""
    for authenticator_class in api_settings.DEFAULT_AUTHENTICATION_CLASSES:
        result = authenticator_class().authenticate(request)
        if result is not None:
            return result[0]
    raise exceptions.NotAuthenticated()


async def authenticate(request: HttpRequest):
    """`request_user` from async code, in a database step of its own."""
    return await sync_to_async(db_step(request_user))(request)


async def parse_json_after(
    authenticate_first: Callable[[], Awaitable[Any]], request: HttpRequest, serializer_class: type[Serializer]
) -> dict[str, Any]:
    """`parse_json` for a view that authenticates later, in its first database step: a
    bad body is reported only once `authenticate_first()` has passed, so that a caller
    without credentials hears 401 whatever the body."""
    try:
        return parse_json(request, serializer_class)
    except Exception:
        await authenticate_first()
        raise


def parse_json(request: HttpRequest, serializer_class: type[Serializer]) -> dict[str, Any]:
    content_type = request.content_type or ""
    if content_type != "application/json":
        raise exceptions.UnsupportedMediaType(content_type or "none")
    # request.body raises RequestDataTooBig (413) past DATA_UPLOAD_MAX_MEMORY_SIZE.
    data = load_json(request.body or b"{}", encoding=request.encoding or settings.DEFAULT_CHARSET)
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    validated = serializer.validated_data
    # Its fields refer back to it (`parent`): let go of them now, for the serializer to be
    # freed with this call and not at the next full garbage collection (a chat turn's
    # were 40 of the 50 objects its request left in reference cycles).
    serializer.__dict__.pop("fields", None)
    return validated


# Errors raised before a stream starts answer in the native error envelope.
api_errors = errors_rendered_by(json_error_response)

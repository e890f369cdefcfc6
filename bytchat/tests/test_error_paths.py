"""Errors raised before a stream starts: one decorator, given each surface's renderer."""

from __future__ import annotations

import asyncio
import json

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, get_resolver

from bytchat.api.errors import ApiError, errors_rendered_by
from bytchat.errors import NotFound


def _plain_async_views(patterns, prefix: str = ""):
    """(route, view) of every URL served by an `async def` view that is not a DRF view."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _plain_async_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view = pattern.callback
            if asyncio.iscoroutinefunction(view) and not hasattr(view, "cls"):
                yield prefix + str(pattern.pattern), view


def test_every_plain_async_view_renders_its_errors_through_the_one_decorator():
    views = dict(_plain_async_views(get_resolver().url_patterns))
    # The streaming endpoints of the native API, the panel and each compatibility API.
    assert len(views) >= 6, views
    undecorated = [route for route, view in views.items() if not hasattr(view, "error_renderer")]
    assert undecorated == []


def _render(error: ApiError) -> JsonResponse:
    return JsonResponse({"said": error.code}, status=error.status, headers={"X-Surface": "test"})


def _call(view) -> JsonResponse:
    return asyncio.run(view(HttpRequest()))


def test_a_domain_error_answers_in_the_surfaces_format_with_its_status():
    @errors_rendered_by(_render)
    async def view(request):
        raise NotFound()

    response = _call(view)
    assert response.status_code == 404
    assert json.loads(response.content) == {"said": "NOT_FOUND"}
    assert response["X-Surface"] == "test"


def test_an_unexpected_error_is_a_logged_500_in_the_surfaces_format(caplog):
    @errors_rendered_by(_render)
    async def view(request):
        raise RuntimeError("boom")

    response = _call(view)
    assert response.status_code == 500
    assert json.loads(response.content) == {"said": "INTERNAL_ERROR"}
    assert "Unhandled API error" in caplog.text


def test_a_response_passes_through_untouched():
    @errors_rendered_by(_render)
    async def view(request):
        return JsonResponse({"ok": True}, status=201)

    response = _call(view)
    assert response.status_code == 201
    assert json.loads(response.content) == {"ok": True}

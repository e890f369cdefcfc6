"""What `OPTIONS` answers on every DRF view of every API surface."""

from __future__ import annotations

from typing import Any

from rest_framework.metadata import BaseMetadata


class Metadata(BaseMetadata):
    """The view's name, description, media types and allowed methods.

    DRF's SimpleMetadata also describes the body of each write, by building the view's
    serializer and fetching its object (`get_object`) for a PUT: that fails on every view
    without a `serializer_class` or `queryset` (an action endpoint, a view that loads its
    object through a selector), and it reads the database for a request that changes
    nothing. The OpenAPI schema at /api/v1/schema/ is where bodies are described."""

    def determine_metadata(self, request, view) -> dict[str, Any]:
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
            "allowed_methods": view.allowed_methods,
        }

"""The API documentation pages. They live apart from `bytchat.api.schema`, which is the
schema class DRF imports while drf-spectacular's views module is itself being imported."""

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView


class SwaggerView(SpectacularSwaggerView):
    """The Swagger UI page. It renders only its HTML template, which has no form for
    OPTIONS' metadata, so it answers GET and HEAD and nothing else (405)."""

    http_method_names = ["get", "head"]


class RedocView(SpectacularRedocView):
    """The ReDoc page; GET and HEAD only, as `SwaggerView`."""

    http_method_names = ["get", "head"]

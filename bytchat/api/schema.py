"""OpenAPI pieces shared by the native API: the error envelope and its responses."""

from drf_spectacular.utils import OpenApiResponse
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework import serializers


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="An uppercase constant, e.g. NOT_FOUND.")
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per-field messages for VALIDATION_ERROR; empty otherwise.",
    )


class ErrorEnvelopeSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


_DESCRIPTIONS = {
    400: "Invalid input (VALIDATION_ERROR, MALFORMED_REQUEST, ...).",
    401: "Missing, invalid, expired or revoked credentials (UNAUTHORIZED).",
    403: "Not allowed for this role (FORBIDDEN).",
    404: "Not found, or not yours (NOT_FOUND).",
    409: "Conflicts with the current state.",
    413: "Body too large (PAYLOAD_TOO_LARGE).",
    415: "Unsupported content type (UNSUPPORTED_MEDIA_TYPE).",
    429: "Rate limited (RATE_LIMIT_EXCEEDED); see Retry-After.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {
        status: OpenApiResponse(ErrorEnvelopeSerializer, description=_DESCRIPTIONS[status])
        for status in statuses
    }


class SwaggerView(SpectacularSwaggerView):
    """The Swagger UI page. It renders only its HTML template, which has no form for
    OPTIONS' metadata, so it answers GET and HEAD and nothing else (405)."""

    http_method_names = ["get", "head"]


class RedocView(SpectacularRedocView):
    """The ReDoc page; GET and HEAD only, as `SwaggerView`."""

    http_method_names = ["get", "head"]

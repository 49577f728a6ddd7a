"""The schema and documentation pages, with errors in the API's JSON shape."""

from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response


class JsonErrorsMixin:
    """Render errors of the docs views as JSON, not YAML or an HTML template."""

    def handle_exception(self, exc: Exception) -> Response:
        """Shape the error as usual and force the JSON renderer for it."""
        response = super().handle_exception(exc)  # type: ignore[misc]
        self.request.accepted_renderer = JSONRenderer()  # type: ignore[attr-defined]
        self.request.accepted_media_type = "application/json"  # type: ignore[attr-defined]
        return response


class SchemaApi(JsonErrorsMixin, SpectacularAPIView):
    """The OpenAPI 3 schema (YAML, or JSON with ``?format=json``)."""


class SwaggerApi(JsonErrorsMixin, SpectacularSwaggerSplitView):
    """Swagger UI, assets and start-up script served locally (CSP: no inline JS)."""


class RedocApi(JsonErrorsMixin, SpectacularRedocView):
    """Redoc over the schema, assets served locally (sidecar)."""

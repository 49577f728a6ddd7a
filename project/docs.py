"""The schema and documentation pages, with errors in the API's JSON shape."""

from django.utils.decorators import method_decorator

from csp.decorators import csp_update
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


@method_decorator(csp_update({"worker-src": ["'self'", "blob:"]}), name="get")
class RedocApi(JsonErrorsMixin, SpectacularRedocView):
    """Redoc over the schema, under the site's CSP.

    Redoc (vendored by ``web/vendor.mjs``, its cdn.redoc.ly logo removed) is
    served by whitenoise and loads no web fonts; its search index runs in a
    ``blob:`` worker, allowed by ``worker-src`` on this page only.
    """

    template_name = "api/redoc.html"

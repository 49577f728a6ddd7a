"""Root URLs: the versioned API, the admin, health checks and the OpenAPI docs."""

from django.contrib import admin
from django.urls import include, path

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.views import jwks
from project import health

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("documents.urls")),
    path("", include("attachments.urls")),
    path("", include("aiproxy.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path(".well-known/jwks.json", jwks, name="jwks"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"
    ),
    path("admin/", admin.site.urls),
]

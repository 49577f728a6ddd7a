"""Root URLs: the versioned API, the admin, health checks and the OpenAPI docs.

Errors raised outside DRF views (unknown URLs, uncaught exceptions) answer
JSON ``{detail, code}`` under ``/api/`` and Django's HTML pages elsewhere.
"""

from django.contrib import admin
from django.urls import include, path

from accounts.views import jwks
from project import health, oidc
from project.docs import RedocApi, SchemaApi, SwaggerApi

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("documents.urls")),
    path("", include("documents.links.urls")),
    path("", include("attachments.urls")),
    path("", include("aiproxy.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path(".well-known/jwks.json", jwks, name="jwks"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SchemaApi.as_view(), name="schema"),
    path("api/docs/", SwaggerApi.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", RedocApi.as_view(url_name="schema"), name="redoc"),
    # Staff sign-in: Cognito (OIDC + PKCE) when configured, else passwords.
    path("admin/login/", oidc.admin_login, name="admin-login"),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("admin/", admin.site.urls),
    # The end-user web app at / (web/): pages, local sign-in, Cognito callback.
    path("", include("web.urls")),
]

handler400 = "project.exceptions.bad_request"
handler403 = "project.exceptions.permission_denied"
handler404 = "project.exceptions.page_not_found"
handler500 = "project.exceptions.server_error"

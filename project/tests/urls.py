"""The real URLs plus test-only views, for ``@pytest.mark.urls``."""

from django.urls import path

from project.tests import views
from project.urls import handler400, handler403, handler404, handler500  # noqa: F401
from project.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("api/test/echo", views.EchoApi.as_view()),
    path("api/test/things", views.IdempotentThingCreateApi.as_view()),
    path("api/test/public", views.PublicApi.as_view()),
    path("api/test/scoped", views.ScopedApi.as_view()),
    path("api/test/fail/<str:kind>", views.FailingApi.as_view()),
    path("api/test/plain/<str:kind>", views.plain_failing_view),
    path("plain/<str:kind>", views.plain_failing_view),
    path("api/test/csp-updated", views.csp_updated_view),
    path("api/test/csp-nonce", views.csp_nonce_view),
    *project_urlpatterns,
]

"""The benchmark ceiling: Django with nothing of Quire's in it.

One bare view returning a constant ``JsonResponse``, no middleware, no apps,
no database; served by ``bench/documents.py`` in its own gunicorn process with
the same ``gunicorn.conf.py`` as the API. Whatever the API costs above this is
ours (middleware, authentication, DRF, queries), so cutting it shows in the
ratios. This module is both the settings and the URLconf; it is never part of
the project's URLs.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path

SECRET_KEY = "bench-ceiling-only"  # noqa: S105 - no sessions, no signing
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict = {}
ROOT_URLCONF = "bench.ceiling.settings"
USE_TZ = True


def ceiling(request: HttpRequest) -> JsonResponse:
    """Answer a constant."""
    return JsonResponse({"status": "ok"})


urlpatterns = [path("ceiling", ceiling)]

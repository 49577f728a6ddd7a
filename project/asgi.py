"""ASGI entry point: the streaming AI routes (gunicorn with an ASGI worker)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
application = get_asgi_application()

from project.runtime import check_migrated  # noqa: E402 - needs Django set up

check_migrated()

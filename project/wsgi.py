"""WSGI entry point: the REST API and the admin (gunicorn sync/threaded workers)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
application = get_wsgi_application()

from project.runtime import check_ready_to_serve  # noqa: E402 - needs Django set up

check_ready_to_serve()

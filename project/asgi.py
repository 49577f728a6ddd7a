"""ASGI entry point: the streaming AI routes (gunicorn with an ASGI worker).

``POST`` requests to the async AI views skip Django's ASGI handler and its
middleware adapters (see ``aiproxy.asgi``); every other request goes through
Django as usual.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
django_application = get_asgi_application()

from aiproxy.asgi import with_ai_routes  # noqa: E402 - needs Django set up
from project.runtime import check_migrated  # noqa: E402 - needs Django set up

application = with_ai_routes(django_application)

check_migrated()

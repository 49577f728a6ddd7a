"""ASGI entry point: Django's own handler (gunicorn with uvicorn workers).

Every request goes through Django's ASGI handler and the whole
``MIDDLEWARE`` list, the same as under WSGI. That list must be async-native
(``project.checks``), so the async AI views pay no thread hop for it: the
worker refuses to start otherwise.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
application = get_asgi_application()

from aiproxy import tokens  # noqa: E402 - needs Django set up
from project.checks import refuse_unless_async_native  # noqa: E402 - needs Django
from project.runtime import check_ready_to_serve  # noqa: E402 - needs Django set up

refuse_unless_async_native()
check_ready_to_serve()
tokens.warm()  # the AI routes count prompts: load the encoding before serving

"""gunicorn settings shared by `make run`, the container image and CI."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(
    os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 4))
)
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
accesslog = "-"

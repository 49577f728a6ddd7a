"""gunicorn settings shared by `make run`, the container image and CI.

One image, two serving modes chosen by ``QUIRE_SERVE`` (the ALB routes by path
to two ECS services running the same image):

- ``api`` (default): the WSGI app (``project.wsgi``) on threaded sync workers
  (``gthread``): the REST API, the admin, static files, health checks.
- ``ai``: the ASGI app (``project.asgi``) on uvicorn workers, for the
  streaming AI routes (``/api/v1/ai/*``, ``/api/v1/documents/*/ai/*``): a
  stream waits on the upstream without holding a thread.
- ``all``: the same ASGI app for every route, on one port: what ``make run``
  serves (one URL, streaming included). Both apps share one async-native
  middleware list, so every route works under either; production keeps the
  split because the sync REST views run faster on threads than through
  ASGI's thread hops.

Every value can be overridden from the environment; see the README
("Deploying to AWS") for the table.
"""

import os

from project.bind import bind_addresses
from project.logging import logging_config


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


serve = os.environ.get("QUIRE_SERVE", "api").strip().lower()
if serve not in {"api", "ai", "all"}:
    raise RuntimeError(f"QUIRE_SERVE must be 'api', 'ai' or 'all', not {serve!r}")
asgi = serve in {"ai", "all"}

# The app when none is given on the command line (the image's CMD gives none).
wsgi_app = "project.asgi:application" if asgi else "project.wsgi:application"

# GUNICORN_BIND, else GUNICORN_HOST:PORT; the health check reads the same.
bind = bind_addresses()
# WEB_CONCURRENCY is the common name (Heroku, Render, uvicorn) for worker count.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * _cpu_count() + 1, 4)))
if asgi:
    worker_class = os.environ.get(
        "GUNICORN_WORKER_CLASS", "uvicorn_worker.UvicornWorker"
    )
else:
    worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
    threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# A worker silent for this long is killed and replaced. AI streams keep the
# uvicorn worker's heartbeat going, so the same value holds for both modes.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Shorter than ECS's stopTimeout (30 s by default): in-flight requests finish
# after SIGTERM before ECS sends SIGKILL.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))
# Longer than the ALB's idle timeout (60 s by default), so the ALB, not
# gunicorn, closes idle keep-alive connections (no 502s from races).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
# Recycle workers now and then to bound slow leaks; jitter avoids a stampede.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "0"))
# Trust X-Forwarded-* only from these addresses. In the container the only
# peer is the ALB (security groups), so the image sets "*".
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# The heartbeat file lives in memory, not on the container's overlay disk
# (gunicorn creates it with mkstemp, so a shared directory is safe).
_SHM = "/dev/shm"  # noqa: S108
if os.path.isdir(_SHM):
    worker_tmp_dir = _SHM

# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn):
# two servers on one machine would fight over it, and ECS has no use for it.
control_socket_disable = True

# The request line's limit, at gunicorn's maximum (its default, 4094, answered
# its own HTML 414 for an API `next` link with a long cursor and search);
# Django answers JSON 414 url_too_long past settings.MAX_URL_BYTES, below it.
limit_request_line = int(os.environ.get("GUNICORN_LIMIT_REQUEST_LINE", "8190"))

# Logs: one JSON object per line on stdout, access log included.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = logging_config(loglevel.upper())

"""Where gunicorn listens, read from the environment.

One rule for ``gunicorn.conf.py`` and for the container's health check
(:mod:`project.healthcheck`), so the check probes the address the server
really binds, whatever ``GUNICORN_BIND`` or ``PORT`` say.

Deliberately free of Django: the health check runs every few seconds in a
fresh interpreter.
"""

import os
from collections.abc import Mapping

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = "8000"


def bind_addresses(environ: Mapping[str, str] = os.environ) -> list[str]:
    """Return gunicorn's ``bind`` list.

    ``GUNICORN_BIND`` wins (one address or a comma-separated list, each
    ``host:port``, ``[v6]:port`` or ``unix:/path``); otherwise
    ``GUNICORN_HOST`` (default loopback) on ``PORT`` (default 8000). The image
    sets ``GUNICORN_HOST=0.0.0.0``, so ``PORT`` alone moves it.
    """
    explicit = [part.strip() for part in environ.get("GUNICORN_BIND", "").split(",")]
    explicit = [part for part in explicit if part]
    if explicit:
        return explicit
    host = environ.get("GUNICORN_HOST", "").strip() or DEFAULT_HOST
    port = environ.get("PORT", "").strip() or DEFAULT_PORT
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return [f"{host}:{port}"]


def probe_target(address: str) -> tuple[str, str | int]:
    """Return how to reach one bind address from inside the container.

    ``("unix", path)`` for a socket, else ``("tcp", "host:port")``, where a
    wildcard host (``0.0.0.0``, ``::``, empty) becomes its loopback.
    """
    if address.startswith("unix:"):
        return "unix", address.removeprefix("unix:")
    if address.startswith("fd://"):
        raise ValueError(f"cannot probe an inherited socket ({address})")
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":") or DEFAULT_PORT
        host = "::1" if host in {"", "::"} else host
        return "tcp", f"[{host}]:{port}"
    host, separator, port = address.rpartition(":")
    if not separator:  # a host alone: gunicorn's default port
        host, port = address, DEFAULT_PORT
    host = "127.0.0.1" if host in {"", "0.0.0.0", "*"} else host  # noqa: S104
    return "tcp", f"{host}:{port or DEFAULT_PORT}"

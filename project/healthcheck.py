"""The container's health check: ``python -m project.healthcheck``.

The image's ``HEALTHCHECK`` (and an ECS container health check) run it. It
asks ``/healthz`` (liveness: the process answers, no dependency involved) on
the first address gunicorn binds (:func:`project.bind.bind_addresses`), with
a ``Host`` Django accepts (the first of ``DJANGO_ALLOWED_HOSTS``), and exits
0 on 200, 1 otherwise, printing why. It does not load Django or the
settings: it runs every few seconds in a fresh interpreter.
"""

import http.client
import os
import socket
import sys
from collections.abc import Mapping

from project.bind import bind_addresses, probe_target

TIMEOUT_SECONDS = 4.0  # below the HEALTHCHECK's --timeout


class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client`` over a Unix socket (gunicorn's ``unix:/path`` bind)."""

    def __init__(self, path: str, timeout: float) -> None:  # noqa: D107
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        """Connect to the socket file instead of a TCP address."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def host_header(environ: Mapping[str, str]) -> str:
    """Return a host name Django's ALLOWED_HOSTS accepts (else ``localhost``)."""
    for entry in environ.get("DJANGO_ALLOWED_HOSTS", "").split(","):
        name = entry.strip().lstrip(".")
        if name and name != "*":
            return name
    return "localhost"


def check(environ: Mapping[str, str] = os.environ) -> tuple[bool, str]:
    """Return ``(healthy, message)`` for one GET /healthz."""
    address = bind_addresses(environ)[0]
    kind, target = probe_target(address)
    if kind == "unix":
        connection: http.client.HTTPConnection = UnixHTTPConnection(
            str(target), TIMEOUT_SECONDS
        )
    else:
        connection = http.client.HTTPConnection(str(target), timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/healthz", headers={"Host": host_header(environ)})
        status = connection.getresponse().status
    except OSError as error:
        return False, f"{address}: {type(error).__name__}: {error}"
    finally:
        connection.close()
    return status == 200, f"{address}: /healthz answered {status}"


def main() -> int:
    """Run the check once; print the outcome for the container's health log."""
    healthy, message = check()
    print(message)  # noqa: T201 - the health log keeps the output
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())

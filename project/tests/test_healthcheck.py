"""The container health check and the bind rule it shares with gunicorn."""

import http.server
import os
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from project.bind import bind_addresses, probe_target
from project.healthcheck import check, host_header
from project.tests.loopback import serving


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ["127.0.0.1:8000"]),
        ({"PORT": "9000"}, ["127.0.0.1:9000"]),
        ({"GUNICORN_HOST": "0.0.0.0", "PORT": "9000"}, ["0.0.0.0:9000"]),  # noqa: S104
        ({"GUNICORN_HOST": "::", "PORT": "9000"}, ["[::]:9000"]),
        ({"GUNICORN_BIND": "10.0.0.5:81", "PORT": "9000"}, ["10.0.0.5:81"]),
        ({"GUNICORN_BIND": "a:1, unix:/run/q.sock"}, ["a:1", "unix:/run/q.sock"]),
        ({"GUNICORN_BIND": " ", "PORT": "7"}, ["127.0.0.1:7"]),
    ],
)
def test_bind_addresses_from_environment(environ, expected):
    """GUNICORN_BIND wins; else GUNICORN_HOST (loopback) on PORT (8000)."""
    assert bind_addresses(environ) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("0.0.0.0:8000", ("tcp", "127.0.0.1:8000")),  # noqa: S104
        (":8000", ("tcp", "127.0.0.1:8000")),
        ("[::]:8000", ("tcp", "[::1]:8000")),
        ("[fd00::5]:81", ("tcp", "[fd00::5]:81")),
        ("10.0.0.5:81", ("tcp", "10.0.0.5:81")),
        ("localhost", ("tcp", "localhost:8000")),
        ("unix:/run/q.sock", ("unix", "/run/q.sock")),
    ],
)
def test_probe_target_wildcards_become_loopback(address, expected):
    """A wildcard bind is probed on loopback; a socket path on the socket."""
    assert probe_target(address) == expected


def test_probe_target_inherited_socket_refused():
    """An fd:// bind cannot be probed, and says so."""
    with pytest.raises(ValueError, match="inherited socket"):
        probe_target("fd://3")


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        ("", "localhost"),
        ("api.quire.test,10.0.0.5", "api.quire.test"),
        (".quire.test", "quire.test"),
        ("*", "localhost"),
        (" , *, api.quire.test", "api.quire.test"),
    ],
)
def test_host_header_first_allowed_host(allowed, expected):
    """The probe's Host is one Django accepts, so a strict list stays healthy."""
    assert host_header({"DJANGO_ALLOWED_HOSTS": allowed}) == expected


class _Recorder(http.server.BaseHTTPRequestHandler):
    status = 200
    seen: list[tuple[str, str]] = []  # noqa: RUF012 - shared by design

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).seen.append((self.path, self.headers.get("Host", "")))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def healthz_server() -> Iterator[tuple[type[_Recorder], int]]:
    """A loopback HTTP server answering every GET with ``handler.status``."""
    handler = type("Handler", (_Recorder,), {"status": 200, "seen": []})
    with serving(handler) as url:
        yield handler, urlsplit(url).port


def test_check_200_on_port_healthy(healthz_server):
    """/healthz answering 200 where PORT points is healthy; Host is allowed."""
    handler, port = healthz_server
    healthy, message = check(
        {
            "GUNICORN_HOST": "0.0.0.0",  # noqa: S104
            "PORT": str(port),
            "DJANGO_ALLOWED_HOSTS": "q.test",
        }
    )
    assert healthy, message
    assert handler.seen == [("/healthz", "q.test")]


def test_check_503_unhealthy(healthz_server):
    """Any answer but 200 is unhealthy, with the status in the message."""
    handler, port = healthz_server
    handler.status = 503
    healthy, message = check({"GUNICORN_BIND": f"127.0.0.1:{port}"})
    assert not healthy
    assert message == f"127.0.0.1:{port}: /healthz answered 503"


def test_check_nobody_listening_unhealthy():
    """A bind nobody listens on is unhealthy, not an exception."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    healthy, message = check({"PORT": str(port)})
    assert not healthy
    assert "ConnectionRefusedError" in message


def test_check_unix_socket_bind(tmp_path):
    """A ``unix:`` bind is probed over the socket file."""
    path = str(tmp_path / "gunicorn.sock")

    class UnixServer(http.server.ThreadingHTTPServer):
        address_family = socket.AF_UNIX

        def server_bind(self) -> None:
            self.socket.bind(self.server_address)
            self.server_name, self.server_port = "localhost", 0

    handler = type("Handler", (_Recorder,), {"status": 200, "seen": []})
    server = UnixServer(path, handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        healthy, message = check({"GUNICORN_BIND": f"unix:{path}"})
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        os.unlink(path)
    assert healthy, message
    assert handler.seen[0][0] == "/healthz"

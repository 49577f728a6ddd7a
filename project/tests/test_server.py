"""The image's exact server command, started on loopback as the container runs it.

The suite runs what the Dockerfile runs, without building the image: the
build-time ``collectstatic`` and the ``CMD`` (``gunicorn -c gunicorn.conf.py``)
with production settings, then checks the health endpoints, the image's
health check command, a hashed static file, security headers and JSON logs.
The image itself is built and smoke-tested by ``make image-test``.
"""

import http.client
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
DOCKERFILE = BASE_DIR / "Dockerfile"

pytestmark = pytest.mark.slow


def _dockerfile_cmd() -> list[str]:
    """Return the image's CMD (exec form) as a list."""
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("CMD "):
            return json.loads(line.removeprefix("CMD "))
    raise AssertionError("Dockerfile has no CMD")


def _dockerfile_env() -> dict[str, str]:
    """Return the ENV values the image sets (``ENV A=1 \\ B=2`` blocks)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for item in shlex.split(line.removeprefix("ENV ")):
                key, _, value = item.partition("=")
                values[key] = value
    return values


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, headers: dict[str, str] | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


class Server:
    """A gunicorn process started with the image's command and environment."""

    def __init__(self, env: dict[str, str], port: int) -> None:  # noqa: D107
        self.port = port
        self.output_path = Path(env["QUIRE_VAR_DIR"]) / f"server-{port}.log"
        self._output = self.output_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - the Dockerfile's CMD
            _dockerfile_cmd(),  # found on the env's PATH (the virtualenv first)
            cwd=BASE_DIR,
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, deadline: float = 60.0) -> None:
        """Wait until /healthz answers, or fail with the server's output."""
        stop_at = time.monotonic() + deadline
        while time.monotonic() < stop_at:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.output()}")
            try:
                if _get(self.port, "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready:\n{self.output()}")

    def stop(self) -> int:
        """Send SIGTERM as ECS does; return the exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._output.close()
        return self.process.returncode

    def output(self) -> str:
        """Return what the server wrote so far."""
        if not self._output.closed:
            self._output.flush()
        return self.output_path.read_text()


@pytest.fixture(scope="module")
def image_env(tmp_path_factory) -> dict[str, str]:
    """The task's environment: the image's ENV plus what ECS would set."""
    var_dir = tmp_path_factory.mktemp("image")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "GUNICORN_", "AWS_", "ECS_"))
        and key not in {"QUIRE_SERVE", "WEB_CONCURRENCY", "PORT"}
    }
    env.update(_dockerfile_env())
    env.update(
        {
            "PATH": f"{BASE_DIR / '.venv' / 'bin'}:{env.get('PATH', '')}",
            "QUIRE_VAR_DIR": str(var_dir),
            "DJANGO_STATIC_ROOT": str(var_dir / "static"),
            "DJANGO_MEDIA_ROOT": str(var_dir / "media"),
            "DATABASE_URL": f"sqlite:///{var_dir / 'db.sqlite3'}",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://127.0.0.1",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "2",
            # The task's Cognito settings: without them workers refuse to boot.
            "COGNITO_AWS_REGION": "eu-west-1",
            "COGNITO_USER_POOL": "eu-west-1_Server",
            "COGNITO_AUDIENCE": "server-test-client",
        }
    )
    # The image's build step, into a temporary STATIC_ROOT.
    collect = subprocess.run(  # noqa: S603
        [
            str(BASE_DIR / ".venv" / "bin" / "python"),
            "manage.py",
            "collectstatic",
            "--noinput",
            "--verbosity",
            "0",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # brotli over ~1,300 files: ~35 s idle, minutes on a loaded machine
        check=False,
    )
    assert collect.returncode == 0, collect.stderr
    return env


@pytest.fixture(scope="module")
def api_server(image_env) -> Iterator[Server]:
    """The api service's container command, moved to a free port by ``PORT``."""
    port = _free_port()
    server = Server(
        {**image_env, "GUNICORN_HOST": "127.0.0.1", "PORT": str(port)}, port
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


HTTPS = {"X-Forwarded-Proto": "https"}


def test_image_cmd_is_gunicorn_with_shared_config():
    """The image starts `gunicorn -c gunicorn.conf.py` (what CI and make run use)."""
    assert _dockerfile_cmd() == ["gunicorn", "-c", "gunicorn.conf.py"]


def test_dockerfile_copies_only_existing_paths():
    """Every path the Dockerfile copies from the build context exists."""
    text = DOCKERFILE.read_text()
    sources = []
    for line in text.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources.extend(line.split()[1:-1])
    assert sources
    for source in sources:
        assert (BASE_DIR / source).exists(), source


def test_server_healthz_answers_over_plain_http(api_server):
    """The container health check (plain HTTP, no forwarded proto) gets 200."""
    status, _headers, body = _get(api_server.port, "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}


def _healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the image's HEALTHCHECK command with ``env``."""
    for line in DOCKERFILE.read_text().replace("\\\n", " ").splitlines():
        if line.startswith("HEALTHCHECK "):
            command = json.loads(line.split(" CMD ", 1)[1])
            break
    else:
        raise AssertionError("Dockerfile has no HEALTHCHECK")
    return subprocess.run(  # noqa: S603 - the Dockerfile's HEALTHCHECK
        command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=10
    )


def test_server_healthcheck_follows_port(api_server, image_env):
    """The image's health check probes the port ``PORT`` moved gunicorn to."""
    env = {**image_env, "PORT": str(api_server.port)}
    result = _healthcheck(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "/healthz answered 200" in result.stdout


def test_server_healthcheck_elsewhere_unhealthy(api_server, image_env):
    """Pointed at a port nobody listens on, the health check fails."""
    result = _healthcheck({**image_env, "PORT": str(_free_port())})
    assert result.returncode == 1
    assert "ConnectionRefusedError" in result.stdout


def test_server_readyz_answers_ok(api_server):
    """The ALB health check path answers 200 with its checks."""
    status, _headers, body = _get(api_server.port, "/readyz")
    assert status == 200
    assert json.loads(body) == {
        "status": "ok",
        "checks": {"database": "ok", "storage": "ok"},
    }


def test_server_static_hashed_file_cached_for_a_year(api_server, image_env):
    """A collected static file is served under its hashed name, cached immutably."""
    manifest = json.loads(
        (Path(image_env["DJANGO_STATIC_ROOT"]) / "staticfiles.json").read_text()
    )
    hashed = manifest["paths"]["admin/css/base.css"]
    assert re.search(r"base\.[0-9a-f]{12}\.css$", hashed)
    status, headers, body = _get(
        api_server.port,
        f"/static/{hashed}",
        {**HTTPS, "Accept-Encoding": "gzip"},
    )
    assert status == 200
    assert body
    cache_control = headers["Cache-Control"]
    assert "max-age=315360000" in cache_control
    assert "immutable" in cache_control
    assert headers.get("Content-Encoding") == "gzip"


def test_server_plain_http_redirected_to_https(api_server):
    """Outside the health checks, plain HTTP is redirected to HTTPS."""
    status, headers, _body = _get(api_server.port, "/admin/login/")
    assert status == 301
    assert headers["Location"].startswith("https://")


def test_server_security_headers_on_https(api_server):
    """Behind the ALB (HTTPS) pages carry HSTS, CSP and secure cookies."""
    status, headers, _body = _get(api_server.port, "/admin/login/", HTTPS)
    assert status == 200
    assert headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    cookie = headers["Set-Cookie"]
    assert "csrftoken=" in cookie
    assert "Secure" in cookie


def test_server_logs_are_json_with_access_line(api_server):
    """Every output line is JSON; the access log has a line for the request."""
    status, headers, _body = _get(
        api_server.port, "/healthz", {"X-Request-ID": "ci-probe-1"}
    )
    assert status == 200
    assert headers["X-Request-ID"] == "ci-probe-1"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in api_server.output().splitlines() if line]
        access = [
            line
            for line in lines
            if line.get("logger") == "gunicorn.access"
            and line.get("request_id") == "ci-probe-1"
        ]
        if access:
            break
        time.sleep(0.1)
    assert access, api_server.output()
    assert access[0]["path"] == "/healthz"
    assert access[0]["status"] == 200
    assert access[0]["method"] == "GET"
    emf = [line for line in lines if "_aws" in line]
    assert emf, "the image enables EMF metrics"


def test_server_ai_mode_serves_asgi_with_json_access_log(image_env):
    """QUIRE_SERVE=ai runs the ASGI app on uvicorn workers from the same config."""
    port = _free_port()
    server = Server(
        {**image_env, "QUIRE_SERVE": "ai", "GUNICORN_BIND": f"127.0.0.1:{port}"}, port
    )
    try:
        server.wait_ready()
        status, headers, _body = _get(port, "/readyz")
        assert status == 200
        assert headers["server"] == "uvicorn"
        health = _healthcheck(
            {**image_env, "GUNICORN_BIND": f"127.0.0.1:{port}", "PORT": "1"}
        )
        assert health.returncode == 0, health.stdout + health.stderr
    finally:
        assert server.stop() == 0
    lines = [json.loads(line) for line in server.output().splitlines() if line]
    assert any(
        line.get("logger") == "uvicorn.access" and line.get("path") == "/readyz"
        for line in lines
    )
    assert any("UvicornWorker" in line.get("message", "") for line in lines)


def test_server_all_mode_serves_every_route_on_one_port(image_env):
    """QUIRE_SERVE=all (make run) serves the admin, the API and the AI routes
    from one uvicorn server: each answers as on its own process."""
    port = _free_port()
    server = Server(
        {**image_env, "QUIRE_SERVE": "all", "GUNICORN_BIND": f"127.0.0.1:{port}"},
        port,
    )
    try:
        server.wait_ready()
        admin = _get(port, "/admin/login/", HTTPS)
        api = _get(port, "/api/v1/me", HTTPS)
        ai = _get(port, "/api/v1/ai/chat/completions", HTTPS)
    finally:
        assert server.stop() == 0
    assert (admin[0], admin[1]["server"]) == (200, "uvicorn")
    assert "csrftoken" in admin[1].get("set-cookie", "")
    assert (api[0], json.loads(api[2])["code"]) == (401, "not_authenticated")
    assert (ai[0], json.loads(ai[2])["code"]) == (405, "method_not_allowed")

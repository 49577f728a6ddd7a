"""The smoke test's harness: podman, containers of the image, scratch databases
and an identity provider on loopback (:mod:`smoke` runs the checks with them).

It sits next to ``smoke.py``, which is run as a script, so its directory is on
``sys.path`` and ``import harness`` finds it.
"""

import contextlib
import http.server
import json
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import psycopg
from cryptography.hazmat.primitives.asymmetric import rsa

PG = "postgres://postgres@127.0.0.1:5432"
HOST = "quire.smoke.test"  # DJANGO_ALLOWED_HOSTS: neither loopback nor a wildcard
HTTPS = {"Host": HOST, "X-Forwarded-Proto": "https"}  # as the ALB forwards
REGION, POOL, CLIENT = "eu-west-1", "eu-west-1_Smoke", "smoke-client"
# One run's suffix for its container, database and user names.
RUN = uuid.uuid4().hex[:8]


class SmokeFailure(AssertionError):
    """A check of the image failed."""


def say(message: str) -> None:
    """Print one progress line."""
    print(f"image-test: {message}", flush=True)  # noqa: T201


def expect(condition: object, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise SmokeFailure(message)


def podman(
    *args: str, timeout: float = 60, check: bool = True, stderr: bool = False
) -> str:
    """Run ``podman ARGS``; return its stdout (and stderr if asked)."""
    result = subprocess.run(  # noqa: S603
        ["podman", *args],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise SmokeFailure(
            f"podman {args[0]} failed ({result.returncode}): "
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout + result.stderr if stderr else result.stdout


def free_port() -> int:
    """Return a TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the identity provider on loopback ---------------------------------------


class Issuer:
    """An RSA key, its JWKS on a loopback HTTP server, and tokens it signs."""

    def __init__(self) -> None:  # noqa: D107
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"smoke-{RUN}"
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps(
            {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}
        ).encode()
        self.fetches = 0
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                issuer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def token(self, email: str) -> str:
        """Return a Cognito-shaped ID token for a new user with ``email``."""
        now = int(time.time())
        claims = {
            "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}",
            "sub": str(uuid.uuid4()),
            "aud": CLIENT,
            "token_use": "id",
            "email": email,
            "email_verified": True,
            "cognito:username": email.split("@")[0],
            "iat": now,
            "auth_time": now,
            "exp": now + 900,
        }
        return jwt.encode(
            claims, self.key, algorithm="RS256", headers={"kid": self.kid}
        )

    def close(self) -> None:
        """Stop the JWKS server."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# --- databases ---------------------------------------------------------------


@contextlib.contextmanager
def databases(*names: str) -> Iterator[dict[str, str]]:
    """Create empty databases; yield ``{name: url}``; drop them afterwards."""
    with psycopg.connect(f"{PG}/postgres", autocommit=True, connect_timeout=10) as db:
        for name in names:
            db.execute(f'DROP DATABASE IF EXISTS "{name}"')
            db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {name: f"{PG}/{name}" for name in names}
    finally:
        with psycopg.connect(
            f"{PG}/postgres", autocommit=True, connect_timeout=10
        ) as db:
            for name in names:
                db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- containers --------------------------------------------------------------


def env_args(env: dict[str, str]) -> list[str]:
    """Return ``--env K=V`` arguments."""
    args: list[str] = []
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    return args


class Container:
    """A detached container of the image on the host network."""

    def __init__(self, image: str, role: str, env: dict[str, str], port: int) -> None:  # noqa: D107
        self.name = f"quire-smoke-{RUN}-{role}"
        self.port = port
        self.role = role
        podman("rm", "--force", "--ignore", self.name)
        podman(
            "run",
            "--detach",
            "--name",
            self.name,
            "--network=host",
            *env_args(env),
            image,
        )

    def state(self) -> dict[str, Any]:
        """Return podman's view of the container's state."""
        out = podman("inspect", "--format", "{{json .State}}", self.name)
        return json.loads(out.splitlines()[0])

    def logs(self, tail: int = 60) -> str:
        """Return the container's last log lines."""
        return podman("logs", "--tail", str(tail), self.name, check=False, stderr=True)

    def url(self, path: str) -> str:
        """Return the URL of ``path`` on this container."""
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET ``path`` (bounded)."""
        headers = {**HTTPS, **kwargs.pop("headers", {})}
        return httpx.get(self.url(path), headers=headers, timeout=10, **kwargs)

    def wait_serving(self, deadline: float = 90) -> None:
        """Wait until /healthz answers 200, failing fast if the container exits."""
        stop_at = time.monotonic() + deadline
        while time.monotonic() < stop_at:
            if not self.state().get("Running"):
                raise SmokeFailure(f"{self.role} exited early:\n{self.logs()}")
            with contextlib.suppress(httpx.HTTPError):
                if self.get("/healthz").status_code == 200:
                    return
            time.sleep(0.5)
        raise SmokeFailure(
            f"{self.role} not serving after {deadline} s:\n{self.logs()}"
        )

    def remove(self) -> None:
        """Remove the container, running or not."""
        podman("rm", "--force", "--ignore", "--time", "2", self.name, check=False)


def refuses_to_serve(image: str, env: dict[str, str], reason: str) -> None:
    """Start the image's command and expect it to exit non-zero naming ``reason``."""
    result = subprocess.run(  # noqa: S603
        ["podman", "run", "--rm", "--network=host", *env_args(env), image],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    expect(result.returncode != 0, f"served although it should not:\n{output[-3000:]}")
    expect(reason in output, f"exit without naming {reason!r}:\n{output[-3000:]}")

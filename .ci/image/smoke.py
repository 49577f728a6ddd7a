"""Smoke test of the built image: ``make image-test`` (after ``make image``).

Runs the image as ECS would, with podman on the host network, against the
PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and an identity provider
on loopback (a JWKS served by ``http.server``, tokens signed by a key made
here). It checks, and fails on the first miss:

- the image: size budget, no pip in the runtime venv, no compiler, no tests,
  bench, infra or docs, user 10001, a HEALTHCHECK;
- ``migrate`` as a one-off container on a fresh database;
- a serving container refuses an unmigrated database (``REQUIRE_MIGRATED=1``)
  and incomplete Cognito settings, naming the reason;
- ``api`` (moved by ``PORT``) and ``ai`` (moved by ``GUNICORN_BIND``): the
  image's health check, ``/healthz``, ``/readyz``, a compressed static file,
  a signed-in request, a PDF and a Word export (the converters and Pango),
  a streamed mock AI answer (the ``openai`` SDK), every
  process as uid 10001, and SIGTERM ending in exit 0 within the graceful
  timeout, an AI stream in flight finishing first.

Every wait is bounded. Usage: ``python .ci/image/smoke.py --image quire:latest``
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import openai
import psycopg

from harness import (
    CLIENT,
    HOST,
    HTTPS,
    POOL,
    REGION,
    RUN,
    Container,
    Issuer,
    SmokeFailure,
    databases,
    env_args,
    expect,
    free_port,
    podman,
    refuses_to_serve,
    say,
)

HERE = os.path.dirname(os.path.abspath(__file__))
GRACEFUL_SECONDS = 10
UID = "10001"


# --- the checks ----------------------------------------------------------------


def check_image(image: str, budget_mb: int, added_budget_mb: int) -> None:
    """Check the size, user, health check and contents of the image."""
    info = json.loads(podman("image", "inspect", image))[0]
    base = json.loads(podman("image", "inspect", "python:3.11-slim-bookworm"))[0]
    size_mb, base_mb = info["Size"] / 1e6, base["Size"] / 1e6
    say(
        f"size {size_mb:.0f} MB: base {base_mb:.0f} MB + Quire {size_mb - base_mb:.0f}"
        f" MB (budgets {budget_mb} MB, Quire {added_budget_mb} MB)"
    )
    expect(size_mb <= budget_mb, f"image {size_mb:.0f} MB > budget {budget_mb} MB")
    expect(
        size_mb - base_mb <= added_budget_mb,
        f"Quire's layers {size_mb - base_mb:.0f} MB > budget {added_budget_mb} MB",
    )
    expect(info["Config"].get("User") == f"{UID}:{UID}", f"user {info['Config']}")
    health = info.get("Healthcheck") or info["Config"].get("Healthcheck") or {}
    expect(
        health.get("Test", [])[-3:] == ["python", "-m", "project.healthcheck"],
        f"no HEALTHCHECK on project.healthcheck (built without --format docker?): "
        f"{health}",
    )
    probe = (
        "import importlib.util, json, os, shutil, sys;"
        "print(json.dumps({"
        "'pip': importlib.util.find_spec('pip') is not None,"
        "'setuptools': importlib.util.find_spec('setuptools') is not None,"
        "'prefix': sys.prefix,"
        "'tools': [t for t in ('gcc', 'cc', 'c++', 'make', 'ld') if shutil.which(t)],"
        "'app': sorted(os.listdir('/app')),"
        "'tests': [r for r, d, f in os.walk('/app') if os.path.basename(r) == 'tests'],"
        "'uid': os.getuid(), 'gid': os.getgid()}))"
    )
    facts = json.loads(
        podman("run", "--rm", "--network=host", image, "python", "-c", probe)
        .strip()
        .splitlines()[-1]
    )
    expect(facts["prefix"] == "/opt/venv", f"python is not the venv's: {facts}")
    expect(not facts["pip"] and not facts["setuptools"], f"installer in venv: {facts}")
    expect(not facts["tools"], f"build tools in the image: {facts['tools']}")
    expect(not facts["tests"], f"tests in the image: {facts['tests']}")
    unwanted = {"bench", "infra", "docs", ".ci", "Dockerfile", "Makefile", ".git"}
    expect(not unwanted & set(facts["app"]), f"/app carries {facts['app']}")
    # Every app package and the project-wide templates made it in.
    repo = os.path.dirname(os.path.dirname(HERE))
    wanted = {
        name
        for name in os.listdir(repo)
        if name not in unwanted
        and (
            os.path.isfile(os.path.join(repo, name, "__init__.py"))
            or name == "templates"
        )
    }
    expect(
        wanted <= set(facts["app"]), f"/app lacks {sorted(wanted - set(facts['app']))}"
    )
    expect(facts["uid"] == int(UID) and facts["gid"] == int(UID), f"ids {facts}")
    say(f"image: uid {UID}, no pip, no build tools, /app = {' '.join(facts['app'])}")


def check_uids(container: Container) -> None:
    """Check that every process in the container runs as uid 10001."""
    out = podman("top", container.name, "huser", "user", "args")
    # huser: the uid as the host sees it (no user namespace); user: the name
    # inside, from the image's /etc/passwd.
    rows = [line.split(None, 2) for line in out.strip().splitlines()[1:]]
    expect(rows, f"no processes listed: {out}")
    expect(
        all(row[:2] == [UID, "quire"] for row in rows),
        f"{container.role} processes: {out}",
    )
    say(f"{container.role}: {len(rows)} processes, all uid {UID}")


def check_health(container: Container) -> None:
    """Check the image's HEALTHCHECK, /healthz, /readyz and a static file."""
    out = podman("healthcheck", "run", container.name, check=False)
    expect(
        "unhealthy" not in out and container_health(container) == "healthy",
        f"{container.role}: health check says {out!r}",
    )
    response = container.get("/healthz")
    expect(response.json() == {"status": "ok"}, f"/healthz: {response.text}")
    response = container.get("/readyz")
    expect(
        response.status_code == 200 and response.json()["status"] == "ok",
        f"{container.role} /readyz {response.status_code}: {response.text}",
    )
    manifest = json.loads(
        podman("exec", container.name, "cat", "/app/staticfiles/staticfiles.json")
    )
    hashed = manifest["paths"]["admin/css/base.css"]
    response = container.get(f"/static/{hashed}", headers={"Accept-Encoding": "gzip"})
    expect(response.status_code == 200, f"static {hashed}: {response.status_code}")
    expect(
        response.headers.get("content-encoding") == "gzip"
        and "immutable" in response.headers.get("cache-control", ""),
        f"static file not compressed and immutable: {dict(response.headers)}",
    )
    say(f"{container.role}: health check healthy, /healthz, /readyz, /static/{hashed}")


def container_health(container: Container) -> str:
    """Return the container's health status as podman records it."""
    state = container.state()
    health = state.get("Health") or state.get("Healthcheck") or {}
    return str(health.get("Status", ""))


def check_signed_in(container: Container, issuer: Issuer) -> None:
    """Check that a loopback JWKS token signs in and no token answers 401."""
    email = f"smoke-{RUN}@example.test"
    response = container.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {issuer.token(email)}"}
    )
    expect(
        response.status_code == 200 and response.json().get("email") == email,
        f"GET /api/v1/me {response.status_code}: {response.text}",
    )
    response = container.get("/api/v1/me")
    expect(
        response.status_code == 401 and response.json().get("code"),
        f"GET /api/v1/me without a token: {response.status_code} {response.text}",
    )
    expect(issuer.fetches >= 1, "the JWKS on loopback was never fetched")
    say(f"{container.role}: signed in with a token from {issuer.url}; 401 without")


def check_export(container: Container, issuer: Issuer) -> None:
    """Check that the image's converters work: a PDF and a Word export."""
    headers = {
        **HTTPS,
        "Authorization": f"Bearer {issuer.token(f'export-{RUN}@example.test')}",
    }
    created = httpx.post(
        container.url("/api/v1/documents/"),
        headers=headers,
        json={"title": "Smoke", "body": "# Smoke\n\nThe *converters* run."},
        timeout=30,
    )
    expect(created.status_code == 201, f"create: {created.status_code} {created.text}")
    path = f"/api/v1/documents/{created.json()['id']}/export"
    for fmt, content_type, magic in (
        ("pdf", "application/pdf", b"%PDF-"),
        ("docx", "application/vnd.openxmlformats-officedocument", b"PK"),
    ):
        response = httpx.get(
            container.url(path), params={"format": fmt}, headers=headers, timeout=60
        )
        expect(
            response.status_code == 200
            and response.headers["content-type"].startswith(content_type)
            and response.content.startswith(magic),
            f"export {fmt}: {response.status_code} {response.text[:300]}",
        )
    say(f"{container.role}: exported a document as PDF (WeasyPrint) and Word (pandoc)")


def ai_client(container: Container, token: str) -> openai.OpenAI:
    """Return the official SDK pointed at the container."""
    return openai.OpenAI(
        base_url=container.url("/api/v1/ai"),
        api_key=token,
        default_headers=HTTPS,
        timeout=30,
        max_retries=0,
    )


def check_stream(container: Container, issuer: Issuer) -> None:
    """Check that a streamed mock answer arrives in pieces and finishes."""
    client = ai_client(container, issuer.token(f"stream-{RUN}@example.test"))
    pieces, finish = [], None
    for chunk in client.chat.completions.create(
        model="quire-mock",
        messages=[{"role": "user", "content": "Say hello."}],
        stream=True,
        max_tokens=16,
    ):
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    text = "".join(pieces)
    expect(len(pieces) > 2 and text.strip() and finish, f"stream: {pieces} {finish}")
    say(f"{container.role}: streamed {len(pieces)} chunks, finish_reason {finish}")


def sigterm(container: Container, during: threading.Thread | None = None) -> None:
    """Send SIGTERM; expect exit 0 within the graceful timeout."""
    started = time.monotonic()
    podman("kill", "--signal", "TERM", container.name)
    if during is not None:
        during.join(timeout=GRACEFUL_SECONDS + 5)
    podman("wait", container.name, timeout=GRACEFUL_SECONDS + 10, check=False)
    elapsed = time.monotonic() - started
    state = container.state()
    expect(not state.get("Running"), f"{container.role} still running after SIGTERM")
    expect(
        state.get("ExitCode") == 0,
        f"{container.role} exit code {state.get('ExitCode')}:\n{container.logs()}",
    )
    expect(
        elapsed < GRACEFUL_SECONDS,
        f"{container.role} took {elapsed:.1f} s > {GRACEFUL_SECONDS} s",
    )
    say(f"{container.role}: SIGTERM -> exit 0 in {elapsed:.1f} s")


def stream_through_sigterm(container: Container, issuer: Issuer) -> None:
    """Check that an AI stream in flight at SIGTERM still finishes."""
    client = ai_client(container, issuer.token(f"drain-{RUN}@example.test"))
    outcome: dict[str, Any] = {}
    first = threading.Event()

    def consume() -> None:
        try:
            stream = client.chat.completions.create(
                model="quire-mock",
                messages=[{"role": "user", "content": "Write a long paragraph."}],
                stream=True,
                max_tokens=60,
            )
            for chunk in stream:
                first.set()
                for choice in chunk.choices:
                    outcome["finish"] = choice.finish_reason or outcome.get("finish")
        except Exception as error:  # noqa: BLE001 - reported below
            outcome["error"] = repr(error)
        finally:
            first.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    expect(first.wait(timeout=20), "the stream never started")
    sigterm(container, during=thread)
    expect(
        "error" not in outcome and outcome.get("finish"),
        f"stream in flight at SIGTERM did not finish: {outcome}",
    )
    say(f"{container.role}: the stream in flight finished ({outcome['finish']})")


def main() -> int:
    """Run every check; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="quire:latest")
    parser.add_argument(
        "--budget-mb", type=int, default=int(os.environ.get("IMAGE_BUDGET_MB", "720"))
    )
    parser.add_argument(
        "--quire-budget-mb",
        type=int,
        default=int(os.environ.get("IMAGE_QUIRE_BUDGET_MB", "540")),
        help="budget for the layers on top of the base image",
    )
    args = parser.parse_args()
    os.environ.setdefault("CONTAINERS_CONF", os.path.join(HERE, "containers.conf"))
    started = time.monotonic()
    issuer = Issuer()
    containers: list[Container] = []
    try:
        check_image(args.image, args.budget_mb, args.quire_budget_mb)
        db_name, empty_name = f"quire_smoke_{RUN}", f"quire_smoke_{RUN}_empty"
        with databases(db_name, empty_name) as urls:
            env = {
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
                "DATABASE_URL": urls[db_name],
                "DJANGO_ALLOWED_HOSTS": HOST,
                "COGNITO_AWS_REGION": REGION,
                "COGNITO_USER_POOL": POOL,
                "COGNITO_AUDIENCE": CLIENT,
                "COGNITO_JWKS_URL": issuer.url,
                "REQUIRE_MIGRATED": "1",
                "WEB_CONCURRENCY": "1",
                "GUNICORN_GRACEFUL_TIMEOUT": str(GRACEFUL_SECONDS - 2),
            }
            out = podman(
                "run",
                "--rm",
                "--network=host",
                *env_args(env),
                args.image,
                "python",
                "manage.py",
                "migrate",
                "--noinput",
                timeout=300,
            )
            say(f"migrate (one-off container): {out.count('Applying')} migrations")
            refuses_to_serve(
                args.image, {**env, "DATABASE_URL": urls[empty_name]}, "unapplied"
            )
            say("REQUIRE_MIGRATED=1 on an unmigrated database: refused to serve")
            refuses_to_serve(
                args.image, {**env, "COGNITO_USER_POOL": ""}, "COGNITO_USER_POOL"
            )
            say("COGNITO_USER_POOL empty: refused to serve, naming it")

            api_port, ai_port = free_port(), free_port()
            api = Container(args.image, "api", {**env, "PORT": str(api_port)}, api_port)
            containers.append(api)
            ai = Container(
                args.image,
                "ai",
                {
                    **env,
                    "QUIRE_SERVE": "ai",
                    "GUNICORN_BIND": f"127.0.0.1:{ai_port}",
                    "AI_MOCK_CHUNK_DELAY": "0.05",
                },
                ai_port,
            )
            containers.append(ai)
            for container in (api, ai):
                container.wait_serving()
                check_health(container)
                check_uids(container)
            check_signed_in(api, issuer)
            check_export(api, issuer)
            check_stream(ai, issuer)
            sigterm(api)
            stream_through_sigterm(ai, issuer)
    except (SmokeFailure, subprocess.TimeoutExpired, psycopg.Error) as failure:
        say(f"FAILED: {failure}")
        return 1
    finally:
        for container in containers:
            container.remove()
        issuer.close()
    say(f"passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

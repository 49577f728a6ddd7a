"""Account state holds on every gunicorn worker at once (real server, real tokens).

Several sync gunicorn workers serve the test database; one token is used on
all of them before and after sign-out, deactivation and deletion. Issue 14
saw tokens keep working on workers that had remembered them (10 of 20 after
sign-out, GET /me serving a deleted profile, 500s on writes by a deleted
user, and a fresh empty account for the old token). Here, after the change's
response, no request may answer 200 and none may answer 500.

Every storm is bounded in requests and in time.
"""

import concurrent.futures
import http.client
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from django.db import connection

import pytest

from accounts import local_issuer
from accounts.models import AccountTombstone, User
from aiproxy.models import AIModel
from documents.models import Document

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

BASE_DIR = Path(__file__).resolve().parents[2]
WORKERS = 3
PARALLEL = 12
BURST = 20 * WORKERS  # requests per burst: every worker serves several
DEADLINE_SECONDS = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``gunicorn -c gunicorn.conf.py`` with sync workers on the test database."""

    def __init__(self, env: dict[str, str], log: Path) -> None:  # noqa: D107
        self.log_path = log
        self.port = _free_port()
        self.log = log.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - the project's own server
            [str(BASE_DIR / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py"],
            cwd=BASE_DIR,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def workers(self) -> list[int]:
        """Return the worker processes' ids (the master's children)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "server exited early"
            try:
                ready = request(self.port, "GET", "/healthz")[0] == 200
                if ready and len(self.workers()) == WORKERS:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


def request(
    port: int, method: str, path: str, token: str | None = None, body=None
) -> tuple[int, dict]:
    """Send one request on its own connection; return status and JSON body."""
    headers = {"Host": "127.0.0.1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body)
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"raw": raw[:200].decode("latin-1")}
        return response.status, data
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server_env(
    django_db_setup, django_db_blocker, tmp_path_factory, _local_issuer_key_dir
):
    """The servers' environment: the test database and the test signing key."""
    with django_db_blocker.unblock():
        db = connection.settings_dict
    var_dir = tmp_path_factory.mktemp("workers")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "GUNICORN_", "QUIRE_"))
        and key not in {"WEB_CONCURRENCY", "PORT"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings.local",
            "DATABASE_URL": (
                f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
                f"{db['PORT'] or 5432}/{db['NAME']}"
            ),
            "QUIRE_VAR_DIR": str(var_dir),
            "DJANGO_MEDIA_ROOT": str(var_dir / "media"),
            "QUIRE_LOCAL_ISSUER_KEY_PATH": _local_issuer_key_dir,
            "WEB_CONCURRENCY": str(WORKERS),
            "GUNICORN_WORKER_CLASS": "sync",
            "GUNICORN_THREADS": "1",
            "LOG_LEVEL": "warning",
            "API_THROTTLE_USER": "100000/min",
            "API_THROTTLE_ANON": "100000/min",
            "API_THROTTLE_SCOPES": "ai=100000/min",
            "AI_REQUESTS_PER_MINUTE": "100000",
        }
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


@pytest.fixture(scope="module")
def server(server_env):
    """Three sync workers serving the REST API."""
    running = Server(server_env, Path(server_env["QUIRE_VAR_DIR"]) / "api.log")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def ai_server(server_env):
    """The AI process (``QUIRE_SERVE=ai``): three uvicorn workers."""
    env = {
        key: value
        for key, value in server_env.items()
        if key not in {"GUNICORN_WORKER_CLASS", "GUNICORN_THREADS"}
    }
    running = Server(
        {**env, "QUIRE_SERVE": "ai"},
        Path(server_env["QUIRE_VAR_DIR"]) / "ai.log",
    )
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def burst(server: Server, calls: list[tuple[str, str, dict | None]], token: str):
    """Send ``calls`` with ``PARALLEL`` at a time; return ``[(status, body)]``."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        futures = [
            pool.submit(request, server.port, method, path, token, body)
            for method, path, body in calls
        ]
        results = [
            future.result(timeout=max(deadline - time.monotonic(), 1))
            for future in futures
        ]
    return results


def warm(server: Server, token: str) -> None:
    """Use the token on every worker (GETs and a write), all answering 2xx."""
    before = {pid: _cpu_ticks(pid) for pid in server.workers()}
    calls = [("GET", "/api/v1/me", None)] * BURST + [
        ("POST", "/api/v1/documents/", {"title": "warm"})
    ] * WORKERS
    statuses = [status for status, _ in burst(server, calls, token)]
    assert set(statuses) <= {200, 201}, statuses
    busy = [pid for pid, ticks in before.items() if _cpu_ticks(pid) > ticks]
    assert len(busy) == WORKERS, "every worker served the token"


def _new_token(**kw) -> tuple[str, str]:
    sub = str(uuid.uuid4())
    return sub, local_issuer.issue_token(sub=sub, **kw)


def _codes(results) -> dict[int, int]:
    counts: dict[int, int] = {}
    for status, _body in results:
        counts[status] = counts.get(status, 0) + 1
    return counts


def _after_change(server: Server, token: str, code: str) -> None:
    results = burst(
        server,
        [("GET", "/api/v1/me", None)] * BURST
        + [("POST", "/api/v1/documents/", {"title": "late"})] * WORKERS,
        token,
    )
    assert _codes(results) == {401: BURST + WORKERS}, _codes(results)
    assert {body["code"] for _status, body in results} == {code}


@pytest.mark.django_db(transaction=True)
def test_workers_sign_out_refuses_the_token_everywhere_at_once(server):
    """After the 204 of sign-out, no worker accepts the old token."""
    _sub, token = _new_token()
    warm(server, token)
    time.sleep(1.05)  # the token's iat has one-second resolution
    assert request(server.port, "POST", "/api/v1/me/sign-out", token)[0] == 204
    _after_change(server, token, "token_revoked")


@pytest.mark.django_db(transaction=True)
def test_workers_deactivation_refuses_the_token_everywhere_at_once(server):
    """Deactivating the row (as the admin does) locks the token out of every worker."""
    sub, token = _new_token()
    warm(server, token)
    assert User.objects.filter(sub=sub).update(is_active=False) == 1
    _after_change(server, token, "user_inactive")


@pytest.mark.django_db(transaction=True)
def test_workers_deletion_leaves_no_200_and_no_500(server):
    """Deleting while the token is in use: no 500 ever, no 2xx after the 204.

    Requests run on every worker before, during and after ``DELETE /me``.
    Those started after its 204 all answer 401 ``account_deleted``; none
    creates an account or a document; a request already running when the
    deletion committed answers 2xx or 401, never 500.
    """
    sub, token = _new_token()
    warm(server, token)
    deleted_at: list[float] = []

    def delete_me() -> tuple[int, dict]:
        time.sleep(0.3)  # inside the storm
        answer = request(server.port, "DELETE", "/api/v1/me", token)
        deleted_at.append(time.monotonic())
        return answer

    def timed(method: str, path: str, body) -> tuple[float, int, dict]:
        started = time.monotonic()
        status, data = request(server.port, method, path, token, body)
        return started, status, data

    storm = [
        ("POST", "/api/v1/documents/", {"title": "storm"})
        if i % 2
        else ("GET", "/api/v1/me", None)
        for i in range(4 * BURST)
    ]
    with concurrent.futures.ThreadPoolExecutor(PARALLEL + 1) as pool:
        deletion = pool.submit(delete_me)
        futures = [pool.submit(timed, *call) for call in storm]
        results = [f.result(timeout=DEADLINE_SECONDS) for f in futures]
        assert deletion.result(timeout=DEADLINE_SECONDS)[0] == 204
    statuses = {status for _started, status, _body in results}
    assert 500 not in statuses, statuses
    assert statuses <= {200, 201, 401}, statuses
    after = [
        (status, body) for started, status, body in results if started > deleted_at[0]
    ]
    assert all(status == 401 for status, _ in after), _codes(after)
    assert {body["code"] for _, body in after} <= {"account_deleted"}
    refused = [body for _s, status, body in results if status == 401]
    assert {body["code"] for body in refused} <= {"account_deleted"}

    _after_change(server, token, "account_deleted")
    assert not User.objects.filter(sub=sub).exists()
    assert AccountTombstone.objects.filter(sub=sub).count() == 1
    assert not Document.objects.filter(title__in=["storm", "late", "warm"]).exists()


@pytest.mark.django_db(transaction=True)
def test_workers_new_sign_up_after_deletion_gets_a_new_account(server):
    """A token issued after the deletion creates a new, empty account on any worker."""
    sub, token = _new_token()
    status, profile = request(server.port, "GET", "/api/v1/me", token)
    assert status == 200
    assert request(server.port, "DELETE", "/api/v1/me", token)[0] == 204
    fresh = local_issuer.issue_token(sub=sub, issued_at=int(time.time()) + 2)
    results = burst(server, [("GET", "/api/v1/me", None)] * BURST, fresh)
    assert _codes(results) == {200: BURST}
    assert {body["id"] for _status, body in results} != {profile["id"]}
    assert len({body["id"] for _status, body in results}) == 1
    assert User.objects.filter(sub=sub).count() == 1
    assert request(server.port, "GET", "/api/v1/me", token)[1]["code"] == (
        "account_deleted"
    )


CHAT = "/api/v1/ai/chat/completions"
CHAT_BODY = {"model": "quire-mock", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.django_db(transaction=True)
def test_workers_deletion_during_ai_completions_never_500(server, ai_server):
    """AI completions racing DELETE /me answer 200 or 401, never 500; none after.

    Issue 14 saw 16 of 16 completions answer 500 (the deleted user's usage
    row broke its foreign key).
    """
    AIModel.objects.get_or_create(
        name="quire-mock",
        defaults={"provider": "mock", "upstream_model": "quire-mock"},
    )
    _sub, token = _new_token()
    warm_ai = burst(ai_server, [("POST", CHAT, CHAT_BODY)] * 2 * WORKERS, token)
    assert _codes(warm_ai) == {200: 2 * WORKERS}, warm_ai[:3]
    deleted_at: list[float] = []

    def delete_me() -> tuple[int, dict]:
        time.sleep(0.3)
        answer = request(server.port, "DELETE", "/api/v1/me", token)
        deleted_at.append(time.monotonic())
        return answer

    def timed() -> tuple[float, int, dict]:
        started = time.monotonic()
        return (started, *request(ai_server.port, "POST", CHAT, token, CHAT_BODY))

    with concurrent.futures.ThreadPoolExecutor(PARALLEL + 1) as pool:
        deletion = pool.submit(delete_me)
        futures = [pool.submit(timed) for _ in range(2 * BURST)]
        results = [f.result(timeout=DEADLINE_SECONDS) for f in futures]
        assert deletion.result(timeout=DEADLINE_SECONDS)[0] == 204
    assert {status for _t, status, _b in results} <= {200, 401}
    after = [status for started, status, _b in results if started > deleted_at[0]]
    assert set(after) <= {401}
    final = burst(ai_server, [("POST", CHAT, CHAT_BODY)] * BURST, token)
    assert _codes(final) == {401: BURST}
    assert {body["code"] for _status, body in final} == {"account_deleted"}

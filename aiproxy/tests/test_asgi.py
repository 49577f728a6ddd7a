"""The lean ASGI entry of the AI POST routes (``aiproxy.asgi``, ``project.asgi``).

Requests go through the real ``project.asgi.application`` over
``httpx.ASGITransport``: the lean path for ``POST`` to the async AI views,
Django's handler for everything else.
"""

import asyncio
import json
import logging

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async

from aiproxy.models import UsageRecord
from aiproxy.tests.factories import AIModelFactory

pytestmark = pytest.mark.django_db

CHAT = "/api/v1/ai/chat/completions"
MESSAGES = [{"role": "user", "content": "Say hello."}]
SECURITY_HEADERS = (
    "x-content-type-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "x-frame-options",
    "content-security-policy",
)


def _call(method: str, path: str, *, app=None, host: str = "127.0.0.1", **kwargs):
    from project.asgi import application

    application = app or application

    async def go():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport,
            base_url=host if "://" in host else f"http://{host}",
        ) as client:
            return await client.request(method, path, **kwargs)

    return async_to_sync(go)()


@pytest.fixture
def chat(user, bearer_for):
    """Return ``chat(body, **kwargs)``: POST a chat completion as ``user``."""
    AIModelFactory(name="gpt-test", provider="fake")
    token = bearer_for(user)

    def post(body=None, **kwargs):
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        body = body or {"model": "gpt-test", "messages": MESSAGES}
        return _call("POST", CHAT, json=body, headers=headers, **kwargs)

    return post


def test_lean_chat_completion_answers_and_settles(chat):
    """A chat completion through the lean path answers and settles its row."""
    response = chat()
    assert response.status_code == 200
    assert response.json()["object"] == "chat.completion"
    assert UsageRecord.objects.get().status == "ok"


# Django serves GET from another thread (its own connection): committed data.
@pytest.mark.django_db(transaction=True)
def test_lean_security_headers_same_as_django(chat, bearer_for, user):
    """The lean path sends the security headers Django's middleware sends."""
    lean = chat()
    token = bearer_for(user)
    django = _call(
        "GET", "/api/v1/ai/models", headers={"Authorization": f"Bearer {token}"}
    )
    assert django.status_code == 200
    for name in SECURITY_HEADERS:
        assert lean.headers.get(name), name
        assert lean.headers[name] == django.headers[name], name


def test_lean_request_id_echoed(chat):
    """A well-formed ``X-Request-ID`` comes back on the response."""
    response = chat(headers={"X-Request-ID": "req-abc-123"})
    assert response.headers["x-request-id"] == "req-abc-123"


def test_lean_access_log_line(chat, caplog):
    """The lean path writes the same ``quire.request`` access-log line."""
    with caplog.at_level(logging.INFO, logger="quire.request"):
        chat()
    lines = [r for r in caplog.records if r.name == "quire.request"]
    assert [r.getMessage() for r in lines] == [f"POST {CHAT} 200"]
    assert lines[0].status == 200


def test_lean_without_token_401_with_challenge():
    """No bearer token: 401 ``not_authenticated`` with ``WWW-Authenticate``."""
    response = _call("POST", CHAT, json={"model": "x", "messages": MESSAGES})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_lean_body_over_limit_413(chat, settings):
    """A body over ``AI_MAX_BODY_BYTES`` is refused with 413."""
    settings.AI_MAX_BODY_BYTES = 1000
    big = [{"role": "user", "content": "x" * 5000}]
    response = chat({"model": "gpt-test", "messages": big})
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def _scope(token: str, content_length: int) -> dict:
    """Return the ASGI scope of a chat completion POST with ``token``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": CHAT,
        "raw_path": CHAT.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(content_length).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8001),
    }


def test_lean_declared_body_over_limit_413_before_the_body_arrives(
    user, bearer_for, settings
):
    """A Content-Length over the limit is refused without waiting for the body."""
    from project.asgi import application

    settings.AI_MAX_BODY_BYTES = 1000
    token = bearer_for(user)
    sent: list[dict] = []

    async def receive() -> dict:
        await asyncio.Event().wait()  # the body never comes
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    scope = _scope(token, 10**9)

    async def serve() -> None:
        await asyncio.wait_for(application(scope, receive, send), timeout=10)

    async_to_sync(serve)()
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "request_too_large"


def test_lean_unknown_host_handed_to_django_400(chat):
    """A host outside ``ALLOWED_HOSTS`` gets Django's 400, body replayed."""
    from project.asgi import application

    async def go():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://evil.example"
        ) as client:
            return await client.post(CHAT, content=json.dumps({"model": "x"}))

    response = async_to_sync(go)()
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_lean_ssl_redirect_handed_to_django_301(chat, settings):
    """Under ``SECURE_SSL_REDIRECT`` plain HTTP is redirected, as by Django."""
    from django.core.asgi import get_asgi_application

    from aiproxy.asgi import with_ai_routes

    settings.SECURE_SSL_REDIRECT = True  # middleware read it when built
    response = chat(app=with_ai_routes(get_asgi_application()))
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://")


@pytest.mark.django_db(transaction=True)
def test_lean_get_served_by_django_405(chat, bearer_for, user):
    """Other methods on the AI routes are Django's: GET is 405."""
    token = bearer_for(user)
    response = _call("GET", CHAT, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405


def test_lean_unexpected_error_json_500_logged(chat, monkeypatch, caplog):
    """An unexpected exception answers the JSON 500 and is logged."""
    from aiproxy import views

    def broken(self, request, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.ChatCompletionApi, "admit", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = chat()
    assert response.status_code == 500
    assert response.json() == {
        "detail": "A server error occurred.",
        "code": "server_error",
    }
    assert any("Internal Server Error" in r.getMessage() for r in caplog.records)


def _serve_once(token: str, body: dict, on_body_end) -> list[dict]:
    """Serve one POST through ``project.asgi``; call ``on_body_end`` at its end.

    ``on_body_end`` (sync, run in the test's thread) is called when the
    last body message is sent, before the app returns.
    """
    from project.asgi import application

    data = json.dumps(body).encode()
    sent: list[dict] = []
    received = False

    async def receive() -> dict:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": data, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            await sync_to_async(on_body_end)()

    async def serve() -> None:
        await asyncio.wait_for(application(_scope(token, len(data)), receive, send), 10)

    async_to_sync(serve)()
    return sent


def test_lean_answer_sent_before_its_settlement(user, bearer_for):
    """A whole answer is sent first; its ledger row is settled right after."""
    AIModelFactory(name="gpt-test", provider="fake")
    at_send: list[str] = []
    sent = _serve_once(
        bearer_for(user),
        {"model": "gpt-test", "messages": MESSAGES},
        lambda: at_send.append(UsageRecord.objects.get().status),
    )
    assert sent[0]["status"] == 200
    assert at_send == ["pending"]
    record = UsageRecord.objects.get()
    assert record.status == "ok"
    assert record.completion_tokens > 0


def test_lean_settlement_failure_after_the_answer_is_logged(
    user, bearer_for, monkeypatch, caplog
):
    """A settlement failing after the answer was sent is logged; the answer stands.

    The database going away between the answer and its settlement is
    simulated: the row stays pending for ``quota_release_stale``.
    """
    from django.db import OperationalError

    from aiproxy import services

    def database_gone(**kwargs):
        raise OperationalError("the database went away")

    AIModelFactory(name="gpt-test", provider="fake")
    monkeypatch.setattr(services, "quota_settle", database_gone)
    with caplog.at_level(logging.ERROR, logger="aiproxy.asgi"):
        sent = _serve_once(
            bearer_for(user), {"model": "gpt-test", "messages": MESSAGES}, lambda: None
        )
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"])["object"] == "chat.completion"
    assert UsageRecord.objects.get().status == "pending"
    assert any("after the response" in r.getMessage() for r in caplog.records)


def test_lean_headers_follow_the_scheme_from_request_to_request(chat, settings):
    """HSTS goes on HTTPS answers only, also once the headers are remembered."""
    from django.core.asgi import get_asgi_application

    from aiproxy.asgi import with_ai_routes

    settings.SECURE_HSTS_SECONDS = 3600  # middleware read it when built
    app = with_ai_routes(get_asgi_application())
    answers = [
        chat(app=app, host=host)
        for host in ("127.0.0.1", "127.0.0.1", "https://127.0.0.1", "https://127.0.0.1")
    ]
    assert [r.status_code for r in answers] == [200] * 4
    assert [r.headers.get("strict-transport-security") for r in answers] == [
        None,
        None,
        "max-age=3600",
        "max-age=3600",
    ]
    assert all(r.headers["x-frame-options"] == "DENY" for r in answers)


@pytest.mark.parametrize("route", ["chat", "document action"])
def test_lean_client_gone_during_admission_releases_the_reservation(
    route, user, bearer_for
):
    """A client leaving while its quota is reserved leaves nothing held."""
    from aiproxy.models import QuotaCounter
    from documents.models import Document
    from project.asgi import application

    AIModelFactory(name="gpt-test", provider="fake")
    body: dict = {"model": "gpt-test"}
    path = CHAT
    if route == "chat":
        body["messages"] = MESSAGES
    else:
        document = Document.objects.create(owner=user, title="Notes", body="Lyon.")
        path = f"/api/v1/documents/{document.pk}/ai/summarize/"
    data = json.dumps(body).encode()
    messages = [
        {"type": "http.request", "body": data, "more_body": False},
        {"type": "http.disconnect"},  # at once: the admission is under way
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    async def serve() -> None:
        scope = _scope(bearer_for(user), len(data))
        scope["path"], scope["raw_path"] = path, path.encode()
        await asyncio.wait_for(application(scope, receive, send), 10)

    async_to_sync(serve)()
    assert sent == []  # nothing answered: the client had gone
    record = UsageRecord.objects.get()
    assert (record.status, record.error_code) == ("cancelled", "cancelled")
    assert QuotaCounter.objects.get(user=user).reserved_tokens == 0

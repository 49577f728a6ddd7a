"""The AI routes through Django's own ASGI handler (``project.asgi``).

Requests go through the real ``project.asgi.application`` over
``httpx.ASGITransport``; the provider is the OpenAI-compatible fake
upstream on loopback.
"""

import asyncio
import json
import logging

import httpx
import pytest
from asgiref.sync import async_to_sync

from aiproxy.models import UsageRecord
from aiproxy.tests.factories import AIModelFactory

pytestmark = pytest.mark.django_db

CHAT = "/api/v1/ai/chat/completions"
MESSAGES = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(autouse=True)
def _test_connection_kept():
    """Keep the test's transaction open across requests, as Django's test client does.

    Django's handlers close a connection left inside a transaction when a
    request starts or ends; the test's connection is one.
    """
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


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


def test_asgi_chat_completion_answers_and_settles(chat):
    """A chat completion answers, its ledger row settled before the answer."""
    response = chat()
    assert response.status_code == 200
    assert response.json()["object"] == "chat.completion"
    assert UsageRecord.objects.get().status == "ok"


def test_asgi_request_id_echoed(chat):
    """A well-formed ``X-Request-ID`` comes back on the response."""
    response = chat(headers={"X-Request-ID": "req-abc-123"})
    assert response.headers["x-request-id"] == "req-abc-123"


def test_asgi_access_log_line(chat, caplog):
    """An AI answer writes the same ``quire.request`` access-log line."""
    with caplog.at_level(logging.INFO, logger="quire.request"):
        chat()
    lines = [r for r in caplog.records if r.name == "quire.request"]
    assert [r.getMessage() for r in lines] == [f"POST {CHAT} 200"]
    assert lines[0].status == 200


def test_asgi_without_token_401_with_challenge():
    """No bearer token: 401 ``not_authenticated`` with ``WWW-Authenticate``."""
    response = _call("POST", CHAT, json={"model": "x", "messages": MESSAGES})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_asgi_body_over_limit_413(chat, settings):
    """A body over ``AI_MAX_BODY_BYTES`` is refused with 413."""
    settings.AI_MAX_BODY_BYTES = 1000
    big = [{"role": "user", "content": "x" * 5000}]
    response = chat({"model": "gpt-test", "messages": big})
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_asgi_unknown_host_400(chat):
    """A host outside ``ALLOWED_HOSTS`` gets the JSON 400."""
    response = _call(
        "POST", CHAT, host="http://evil.example", content=json.dumps({"model": "x"})
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_asgi_ssl_redirect_301(chat, settings):
    """Under ``SECURE_SSL_REDIRECT`` plain HTTP is redirected to HTTPS."""
    from django.core.asgi import get_asgi_application

    settings.SECURE_SSL_REDIRECT = True  # middleware read it when built
    response = chat(app=get_asgi_application())
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://")


def test_asgi_unexpected_error_json_500_logged(chat, monkeypatch, caplog):
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


def test_asgi_hsts_only_on_https_answers(chat, settings):
    """HSTS goes on HTTPS answers only, request after request."""
    from django.core.asgi import get_asgi_application

    settings.SECURE_HSTS_SECONDS = 3600  # middleware read it when built
    app = get_asgi_application()
    answers = [
        chat(app=app, host=host)
        for host in ("127.0.0.1", "https://127.0.0.1", "127.0.0.1")
    ]
    assert [r.status_code for r in answers] == [200] * 3
    assert [r.headers.get("strict-transport-security") for r in answers] == [
        None,
        "max-age=3600",
        None,
    ]


def _scope(token: str, path: str, content_length: int) -> dict:
    """Return the ASGI scope of a POST to ``path`` with ``token``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
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


@pytest.mark.parametrize("route", ["chat", "document action"])
def test_asgi_client_gone_during_admission_releases_the_reservation(
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
        scope = _scope(bearer_for(user), path, len(data))
        await asyncio.wait_for(application(scope, receive, send), 10)

    async_to_sync(serve)()
    assert sent == []  # nothing answered: the client had gone
    record = UsageRecord.objects.get()
    assert (record.status, record.error_code) == ("cancelled", "cancelled")
    assert QuotaCounter.objects.get(user=user).reserved_tokens == 0

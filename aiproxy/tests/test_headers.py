"""An AI answer carries every header a REST answer carries.

The AI answer comes from the ASGI entry (``project.asgi``), the REST answer
from the WSGI entry (``project.wsgi``), each through its own full handler,
as in production.
"""

import io
import sys

import pytest

from aiproxy.tests.factories import AIModelFactory
from aiproxy.tests.test_asgi import CHAT, MESSAGES, _call

pytestmark = pytest.mark.django_db(transaction=True)

# Headers that belong to the resource, not to the middleware stack.
PER_RESOURCE = {"allow", "content-length", "etag"}


def _wsgi_get(path: str, token: str | None) -> tuple[int, dict[str, str]]:
    """Return the status and headers of ``GET path`` through ``project.wsgi``."""
    from project.wsgi import application

    answer: dict = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = {name.lower(): value for name, value in headers}

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        **({"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}),
        "HTTP_ORIGIN": "http://127.0.0.1:5173",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    body = application(environ, start_response)
    b"".join(body)
    body.close()
    return answer["status"], answer["headers"]


@pytest.fixture(autouse=True)
def _cors_origin(settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["http://127.0.0.1:5173"]


def test_ai_answer_headers_same_as_rest_answer(user, bearer_for):
    """Same header names, same values (but the request id), on both answers."""
    AIModelFactory(name="gpt-test", provider="fake")
    token = bearer_for(user)
    ai = _call(
        "POST",
        CHAT,
        json={"model": "gpt-test", "messages": MESSAGES},
        headers={
            "Authorization": f"Bearer {token}",
            "Origin": "http://127.0.0.1:5173",
        },
    )
    status, rest = _wsgi_get("/api/v1/me", token)
    assert (ai.status_code, status) == (200, 200)
    ai_headers = dict(ai.headers.items())
    shared = set(rest) - PER_RESOURCE
    assert set(ai_headers) - PER_RESOURCE == shared
    assert {"x-request-id", "content-security-policy", "x-frame-options"} <= shared
    assert "access-control-allow-origin" in shared
    for name in shared - {"x-request-id"}:
        assert ai_headers[name] == rest[name], name
    assert ai_headers["x-request-id"] != rest["x-request-id"]


def test_ai_error_headers_same_as_rest_error():
    """A 401 from an AI route carries the REST 401's headers, challenge included."""
    ai = _call("POST", CHAT, json={}, headers={"Origin": "http://127.0.0.1:5173"})
    status, rest = _wsgi_get("/api/v1/me", None)
    assert (ai.status_code, status) == (401, 401)
    ai_headers = dict(ai.headers.items())
    shared = set(rest) - PER_RESOURCE
    assert set(ai_headers) - PER_RESOURCE == shared
    assert {"www-authenticate", "access-control-allow-origin"} <= shared
    for name in shared - {"x-request-id"}:
        assert ai_headers[name] == rest[name], name

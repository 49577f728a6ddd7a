"""Every error under /api/ is JSON ``{detail, code}``; elsewhere Django's pages."""

import json

from django.test import RequestFactory

import pytest
from rest_framework.test import APIClient

from project import exceptions

pytestmark = [pytest.mark.django_db, pytest.mark.urls("project.tests.urls")]


@pytest.fixture
def raw_client(user) -> APIClient:
    """Return a signed-in client that gets 500 responses instead of exceptions."""
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user=user)
    return client


def test_unknown_api_url_answers_json_404(auth_client):
    """An unknown URL under /api/ is a JSON 404, not Django's HTML page."""
    response = auth_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_unknown_api_url_anonymous_answers_json_404(api_client):
    """URL resolution fails before authentication: still JSON, still 404."""
    response = api_client.post("/api/nothing", data="{}", content_type="text/plain")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_unknown_non_api_url_answers_html_404(api_client):
    """Outside /api/ Django's HTML 404 page stays."""
    response = api_client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_admin_not_found_handler_keeps_html():
    """The 404 handler answers HTML for admin paths."""
    request = RequestFactory().get("/admin/accounts/user/nope/")
    response = exceptions.page_not_found(request, Exception("nope"))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_api_wrong_method_answers_json_405(auth_client):
    """A method the view does not implement is 405 ``method_not_allowed``."""
    response = auth_client.get("/api/test/echo")
    assert response.status_code == 405
    assert response.json() == {
        "detail": 'Method "GET" not allowed.',
        "code": "method_not_allowed",
    }


def test_api_malformed_json_answers_400_parse_error(auth_client):
    """A body that is not JSON is 400 ``parse_error``."""
    response = auth_client.post(
        "/api/test/echo", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON parse error - Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1)",
        "code": "parse_error",
    }


def test_api_unsupported_media_type_answers_415(auth_client):
    """A body in a type the view does not parse is 415."""
    response = auth_client.post(
        "/api/test/echo", data="title", content_type="text/plain"
    )
    assert response.status_code == 415
    assert response.json() == {
        "detail": 'Unsupported media type "text/plain" in request.',
        "code": "unsupported_media_type",
    }


def test_api_oversized_json_answers_413(auth_client, settings):
    """A JSON body over DATA_UPLOAD_MAX_MEMORY_SIZE is 413 ``too_large``."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = auth_client.post(
        "/api/test/echo", data={"title": "x" * 200}, format="json"
    )
    assert response.status_code == 413
    assert response.json() == {
        "detail": "Request body is too large.",
        "code": "too_large",
    }


def test_api_json_at_limit_is_accepted(auth_client, settings):
    """A body exactly at the limit is parsed as usual."""
    body = b'{"title": "abc"}'
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)
    response = auth_client.post(
        "/api/test/echo", data=body, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json() == {"title": "abc"}


def test_api_invalid_input_answers_400_with_fields(auth_client):
    """Validation errors are 400 ``invalid`` with messages per field."""
    response = auth_client.post("/api/test/echo", data={}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "code": "invalid",
        "fields": {"title": ["This field is required."]},
    }


def test_api_application_error_answers_its_status_and_code(auth_client):
    """``ApplicationError`` becomes its status with its ``code``."""
    response = auth_client.get("/api/test/fail/conflict")
    assert response.status_code == 409
    assert response.json() == {"detail": "Already done.", "code": "already_done"}


def test_api_not_found_error_answers_404(auth_client):
    """``NotFound`` is a JSON 404."""
    response = auth_client.get("/api/test/fail/missing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_api_unauthenticated_answers_401_json(api_client):
    """No credentials on a protected view is a JSON 401."""
    response = api_client.get("/api/test/fail/missing")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


def test_api_crash_in_drf_view_answers_json_500_without_internals(raw_client):
    """An uncaught exception is a JSON 500 that reveals nothing."""
    response = raw_client.get("/api/test/fail/crash")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "A server error occurred.",
        "code": "server_error",
    }


def test_api_crash_in_plain_view_answers_json_500(raw_client):
    """A crash in a plain Django view under /api/ is the same JSON 500."""
    response = raw_client.get("/api/test/plain/crash")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "A server error occurred.",
        "code": "server_error",
    }
    assert b"token" not in response.content


def test_non_api_crash_answers_html_500(raw_client):
    """Outside /api/ the 500 page is Django's HTML, without a traceback."""
    response = raw_client.get("/plain/crash")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"Traceback" not in response.content
    assert b"token" not in response.content


def test_api_application_error_in_plain_view_answers_json(raw_client):
    """``ApplicationError`` from a plain view keeps its status, code and headers."""
    response = raw_client.get("/api/test/plain/conflict")
    assert response.status_code == 429
    assert response["Retry-After"] == "30"
    assert response.json() == {"detail": "Quota spent.", "code": "quota_exceeded"}


@pytest.mark.parametrize(
    ("handler", "status", "body"),
    [
        (
            exceptions.bad_request,
            400,
            {"detail": "Bad request.", "code": "bad_request"},
        ),
        (
            exceptions.permission_denied,
            403,
            {
                "detail": "You do not have permission to perform this action.",
                "code": "permission_denied",
            },
        ),
    ],
)
def test_api_django_error_handlers_answer_json(handler, status, body):
    """Django's 400/403 handlers answer JSON under /api/."""
    request = RequestFactory().get("/api/v1/anything")
    response = handler(request, Exception("internal"))
    assert response.status_code == status
    assert json.loads(response.content) == body


def test_api_suspicious_host_answers_json_400():
    """A request Django refuses (bad Host header) is a JSON 400 under /api/."""
    client = APIClient(raise_request_exception=False, HTTP_HOST="evil.example")
    response = client.get("/api/v1/anything")
    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request.", "code": "bad_request"}

"""CORS for browser clients on other origins (django-cors-headers).

Allowed origins come from ``CORS_ALLOWED_ORIGINS``; the API's request and
response headers a client needs are allowed and exposed; preflights are cached.
"""

import pytest

from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db

ORIGIN = "https://app.example.test"


@pytest.fixture(autouse=True)
def _allowed_origin(settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]


def preflight(client, path: str, *, origin: str = ORIGIN, method: str = "PATCH"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=(
            "authorization, if-match, content-type, prefer"
        ),
    )


def header_set(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def test_cors_preflight_allowed_origin_allows_api_headers_and_is_cached(client):
    """A preflight from a configured origin allows the API's headers, for hours."""
    response = preflight(client, "/api/v1/documents/some-id/")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert header_set(response["Access-Control-Allow-Headers"]) >= {
        "authorization",
        "if-match",
        "idempotency-key",
        "content-type",
        "prefer",
    }
    assert "PATCH" in response["Access-Control-Allow-Methods"]
    assert int(response["Access-Control-Max-Age"]) >= 600
    assert "Access-Control-Allow-Credentials" not in response


def test_cors_preflight_unknown_origin_gets_no_allow_origin(client):
    """A preflight from an origin not in the list is not allowed."""
    response = preflight(client, "/api/v1/documents/", origin="https://evil.test")

    assert "Access-Control-Allow-Origin" not in response


def test_cors_response_exposes_etag_location_and_friends(user, client_for):
    """A created document's answer lets the other origin read ETag and Location."""
    response = client_for(user).post(
        "/api/v1/documents/",
        {"title": "From afar", "body": ""},
        format="json",
        HTTP_ORIGIN=ORIGIN,
    )

    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert header_set(response["Access-Control-Expose-Headers"]) == {
        "etag",
        "location",
        "retry-after",
        "x-request-id",
        "idempotent-replayed",
        "merged-from",
        "preference-applied",
    }
    assert "origin" in header_set(response["Vary"])


def test_cors_error_answers_carry_cors_headers(client):
    """A 401 is readable by the other origin too (so it can tell the user)."""
    response = client.get("/api/v1/documents/", HTTP_ORIGIN=ORIGIN)

    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_cors_web_pages_and_admin_are_not_cross_origin(client):
    """Only the API is offered to other origins; the admin is not."""
    response = client.get("/admin/login/", HTTP_ORIGIN=ORIGIN)

    assert "Access-Control-Allow-Origin" not in response


def test_cors_no_origins_configured_allows_none(client, settings):
    """With the default empty list, no origin is allowed."""
    settings.CORS_ALLOWED_ORIGINS = []
    document = DocumentFactory()

    response = preflight(client, f"/api/v1/documents/{document.pk}/")

    assert "Access-Control-Allow-Origin" not in response

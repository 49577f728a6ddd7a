"""A page on another origin (a second loopback port) calling the API with fetch."""

import http.server
from collections.abc import Iterator

import pytest

from project.tests.loopback import serving

pytestmark = pytest.mark.browser

FETCH = """async ([url, token]) => {
  try {
    const response = await fetch(url, {headers: {Authorization: `Bearer ${token}`}});
    return {status: response.status, etag: response.headers.get("ETag"),
            requestId: response.headers.get("X-Request-ID")};
  } catch (error) {
    return {blocked: String(error)};
  }
}"""

CREATE = """async ([url, token]) => {
  const response = await fetch(url, {
    method: "POST",
    headers: {Authorization: `Bearer ${token}`, "Content-Type": "application/json",
              "Idempotency-Key": "cross-origin-1"},
    body: JSON.stringify({title: "From elsewhere", body: ""}),
  });
  return {status: response.status, location: response.headers.get("Location"),
          etag: response.headers.get("ETag")};
}"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"<!doctype html><title>Another app</title><p>elsewhere</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture
def other_origin() -> Iterator[str]:
    """Serve a plain page on another loopback port; yield its origin."""
    with serving(_Page) as url:
        yield url


@pytest.fixture
def token(app_url, bearer_for) -> tuple[str, str]:
    from documents.models import Document
    from documents.tests.factories import DocumentFactory

    document: Document = DocumentFactory()
    return bearer_for(document.owner), str(document.pk)


def test_cross_origin_fetch_allowed_origin_reads_etag(
    page, app_url, other_origin, token, settings
):
    """From a configured origin, fetch succeeds and may read ETag and X-Request-ID."""
    settings.CORS_ALLOWED_ORIGINS = [other_origin]
    bearer, document_id = token
    page.goto(f"{other_origin}/")

    result = page.evaluate(
        FETCH, [f"{app_url}/api/v1/documents/{document_id}/", bearer]
    )
    created = page.evaluate(CREATE, [f"{app_url}/api/v1/documents/", bearer])

    assert result["status"] == 200
    assert result["etag"] == '"1"'
    assert result["requestId"]
    assert created["status"] == 201
    assert created["location"].startswith(f"{app_url}/api/v1/documents/")
    assert created["etag"] == '"1"'


def test_cross_origin_fetch_unknown_origin_blocked(
    page, app_url, other_origin, token, settings
):
    """From an origin not in CORS_ALLOWED_ORIGINS, the browser blocks the call."""
    settings.CORS_ALLOWED_ORIGINS = ["http://127.0.0.1:1"]
    bearer, document_id = token
    page.goto(f"{other_origin}/")

    result = page.evaluate(
        FETCH, [f"{app_url}/api/v1/documents/{document_id}/", bearer]
    )

    assert "blocked" in result
    assert "Failed to fetch" in result["blocked"]

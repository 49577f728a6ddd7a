"""An overlong URL is a clear 414 ``url_too_long``, before any work."""

import pytest
from asgiref.sync import async_to_sync

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.MAX_URL_BYTES = 2000


def test_api_url_too_long_returns_json_414(api_client):
    """Past the limit, the API answers its JSON error (no token needed)."""
    response = api_client.get("/api/v1/documents/?q=" + "a" * 2000)

    assert response.status_code == 414
    assert response.json() == {
        "detail": "The URL is too long (2021 bytes; at most 2000).",
        "code": "url_too_long",
    }


def test_api_url_at_the_limit_is_served(auth_client):
    """A URL of exactly the limit is answered as usual."""
    path = "/api/v1/documents/?cursor="
    response = auth_client.get(path + "a" * (2000 - len(path)))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


def test_api_url_counts_percent_encoded_path_bytes(api_client):
    """A path of multi-byte characters is measured as sent, percent-encoded."""
    response = api_client.get("/api/v1/documents/" + "é" * 400 + "/")

    assert response.status_code == 414
    assert response.json()["code"] == "url_too_long"


def test_url_too_long_outside_api_returns_plain_414(client):
    """Outside /api/ (web app, admin) the 414 is plain text."""
    response = client.get("/?x=" + "a" * 2000)

    assert response.status_code == 414
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_api_url_too_long_under_asgi_returns_json_414(async_client):
    """The ASGI app (AI routes, make run) answers the same JSON 414."""

    async def send():
        return await async_client.post(
            "/api/v1/ai/chat/completions?x=" + "a" * 2000,
            data="{}",
            content_type="application/json",
        )

    response = async_to_sync(send)()

    assert response.status_code == 414
    assert response.json()["code"] == "url_too_long"

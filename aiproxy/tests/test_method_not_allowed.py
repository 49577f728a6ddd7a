"""A wrong method on any AI route answers 405 ``{detail, code}`` with ``Allow``."""

import pytest

from aiproxy.tests.test_asgi import _call

pytestmark = pytest.mark.django_db(transaction=True)

ROUTES = [
    ("/api/v1/ai/chat/completions", "GET", "POST, OPTIONS"),
    ("/api/v1/ai/chat/completions", "PUT", "POST, OPTIONS"),
    (
        "/api/v1/documents/0b6f1c9e-5a63-4f5c-9d1e-2f7a1f0e8c11/ai/summarize/",
        "GET",
        "POST, OPTIONS",
    ),
    ("/api/v1/ai/models", "POST", "GET, HEAD, OPTIONS"),
    ("/api/v1/ai/models/gpt-test", "DELETE", "GET, HEAD, OPTIONS"),
    ("/api/v1/ai/usage", "POST", "GET, HEAD, OPTIONS"),
]


@pytest.mark.parametrize(("path", "method", "allow"), ROUTES)
def test_ai_route_wrong_method_405_json_with_allow(
    path, method, allow, user, bearer_for
):
    """The 405 names the method in ``detail``, says ``method_not_allowed``."""
    response = _call(
        method, path, headers={"Authorization": f"Bearer {bearer_for(user)}"}
    )
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "detail": f'Method "{method}" not allowed.',
        "code": "method_not_allowed",
    }
    assert response.headers["allow"] == allow


def test_ai_stream_route_wrong_method_without_token_still_405():
    """The method is refused before authentication: no token needed for 405."""
    response = _call("GET", "/api/v1/ai/chat/completions")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"

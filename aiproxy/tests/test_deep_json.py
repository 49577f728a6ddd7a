"""AI requests with JSON nested too deeply: 400 ``parse_error``, nothing reserved."""

import pytest

from aiproxy.models import UsageRecord
from aiproxy.tests.test_asgi import _call, _test_connection_kept  # noqa: F401
from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db

DEPTH = 10_000
NESTED = '{"model": "x", "messages": ' + "[" * DEPTH + "]" * DEPTH + "}"


@pytest.mark.parametrize("route", ["chat", "document action"])
def test_ai_json_nested_10000_deep_400_parse_error(route, user, bearer_for):
    """Both AI POST routes answer 400 ``parse_error`` and reserve nothing."""
    path = "/api/v1/ai/chat/completions"
    if route == "document action":
        document = DocumentFactory(owner=user)
        path = f"/api/v1/documents/{document.pk}/ai/summarize/"
    response = _call(
        "POST",
        path,
        content=NESTED,
        headers={
            "Authorization": f"Bearer {bearer_for(user)}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON parse error - nested too deeply.",
        "code": "parse_error",
    }
    assert UsageRecord.objects.get().error_code == "parse_error"

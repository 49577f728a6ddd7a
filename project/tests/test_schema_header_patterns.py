"""The schema's header patterns admit exactly the values the server accepts.

schemathesis (``make api-fuzz``) draws header values from these patterns: a
pattern looser than the server's check makes valid-looking requests fail
with 400, one stricter hides what the server takes.
"""

import re

import pytest

from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db


def _header_patterns(api_client, name: str) -> set[str]:
    schema = api_client.get("/api/schema/?format=json").json()
    return {
        parameter["schema"].get("pattern", "")
        for path_item in schema["paths"].values()
        for operation in path_item.values()
        if isinstance(operation, dict)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header" and parameter["name"] == name
    }


@pytest.mark.parametrize(
    "key", ["k", "~" * 255, "tour-1700000000", "a b", "x" * 256, "é", "tab\tkey"]
)
def test_idempotency_key_pattern_matches_what_the_server_accepts(
    api_client, user, client_for, key
):
    """A key the pattern admits creates the document; any other is 400."""
    (pattern,) = _header_patterns(api_client, "Idempotency-Key")
    response = client_for(user).post(
        "/api/v1/documents/", {"title": "t"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    if re.search(pattern, key):
        assert response.status_code == 201
    else:
        assert response.status_code == 400
        assert response.json()["code"] == "idempotency_key_invalid"


@pytest.mark.parametrize(
    "value", ['"1"', 'W/"1"', "*", '"abc"', "1", '"1", "2"', '"12345678901"']
)
def test_if_match_pattern_matches_what_the_server_accepts(
    api_client, user, client_for, value
):
    """An If-Match the pattern admits is used; any other is 400 invalid_if_match."""
    (pattern,) = _header_patterns(api_client, "If-Match")
    document = DocumentFactory(owner=user)
    response = client_for(user).patch(
        f"/api/v1/documents/{document.pk}/",
        {"title": "New"},
        format="json",
        HTTP_IF_MATCH=value,
    )

    if re.search(pattern, value):
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_if_match"

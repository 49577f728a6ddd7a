"""Free-text inputs declare, as schema patterns, the control characters they refuse."""

import re

import jsonschema
import pytest

pytestmark = pytest.mark.django_db


def _patterns(api_client) -> dict[str, str]:
    schema = api_client.get("/api/schema/?format=json").json()
    fields = schema["components"]["schemas"]["DocumentCreateInputRequest"]["properties"]
    return {name: field["oneOf"][0]["pattern"] for name, field in fields.items()}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("body", "tab\tand\nlines\r\n"),
        ("body", "ack\x06"),
        ("body", "del\x7f"),
        ("title", "tab\tok"),
        ("title", "two\nlines"),
        ("title", "nul\x00"),
    ],
)
def test_text_pattern_matches_what_the_server_accepts(
    api_client, user, client_for, field, value
):
    """A value the pattern admits is stored; any other is 400 with no document."""
    pattern = _patterns(api_client)[field]

    response = client_for(user).post(
        "/api/v1/documents/", {field: value}, format="json"
    )

    if re.search(pattern, value):
        assert response.status_code == 201
    else:
        assert response.status_code == 400
        assert field in response.json()["fields"]


@pytest.mark.parametrize("field", ["title", "body"])
def test_empty_text_is_schema_valid_as_the_server_stores_it(
    api_client, user, client_for, field
):
    """``""`` matches exactly one branch of the field's oneOf, and is stored (201)."""
    schema = api_client.get("/api/schema/?format=json").json()
    declared = schema["components"]["schemas"]["DocumentPutInputRequest"]["properties"][
        field
    ]

    response = client_for(user).post("/api/v1/documents/", {field: ""}, format="json")

    jsonschema.validate("", declared)
    assert response.status_code == 201
    assert response.json()[field] == ""

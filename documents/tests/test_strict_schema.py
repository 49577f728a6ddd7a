"""Strict inputs declare that they take no other field, and refuse one."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("component", "path", "body"),
    [
        ("DocumentCreateInputRequest", "/api/v1/documents/", {"title": "t"}),
        (
            "AccessGrantInputRequest",
            "/api/v1/documents/{id}/access/",
            {"email": "a@example.com", "role": "viewer"},
        ),
    ],
)
def test_strict_input_schema_is_closed_and_extra_fields_are_refused(
    api_client, doc, owner, client_for, component, path, body
):
    """``additionalProperties: false`` in the schema; an extra field is 400."""
    schema = api_client.get("/api/schema/?format=json").json()

    response = client_for(owner).post(
        path.format(id=doc.pk), {**body, "extra": 1}, format="json"
    )

    assert schema["components"]["schemas"][component]["additionalProperties"] is False
    assert response.status_code == 400
    assert response.json()["fields"] == {"extra": ["Unknown field."]}

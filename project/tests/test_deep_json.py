"""JSON nested too deeply is a 400 ``parse_error`` on every parser, not a 500."""

import pytest

pytestmark = pytest.mark.django_db

DEPTH = 10_000
BODY = {
    "arrays": "[" * DEPTH + "]" * DEPTH,
    "objects": '{"a":' * DEPTH + "1" + "}" * DEPTH,
}
ANSWER = {"detail": "JSON parse error - nested too deeply.", "code": "parse_error"}


@pytest.mark.urls("project.tests.urls")
@pytest.mark.parametrize("shape", BODY)
def test_rest_json_nested_10000_deep_400_parse_error(auth_client, shape):
    """The project's JSON parser answers 400 ``parse_error`` at depth 10,000."""
    response = auth_client.post(
        "/api/test/echo", data=BODY[shape], content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == ANSWER


def test_document_create_json_nested_10000_deep_400_nothing_created(auth_client):
    """Creating a document with such a body answers 400 and creates nothing."""
    from documents.models import Document

    response = auth_client.post(
        "/api/v1/documents/", data=BODY["arrays"], content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == ANSWER
    assert Document.objects.count() == 0


def test_profile_update_json_nested_10000_deep_400_nothing_changed(auth_client, user):
    """Updating the profile with such a body answers 400 and changes nothing."""
    before = user.display_name
    response = auth_client.patch(
        "/api/v1/me", data=BODY["objects"], content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == ANSWER
    user.refresh_from_db()
    assert user.display_name == before

"""Starting an upload with JSON nested too deeply is a 400 ``parse_error``."""

import pytest

from attachments.models import Attachment
from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db

DEPTH = 10_000


def test_upload_start_json_nested_10000_deep_400_parse_error(auth_client, user):
    """The attachments view uses the project's parser: 400, nothing created."""
    document = DocumentFactory(owner=user)
    response = auth_client.post(
        f"/api/v1/documents/{document.pk}/attachments/",
        data="[" * DEPTH + "]" * DEPTH,
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON parse error - nested too deeply.",
        "code": "parse_error",
    }
    assert Attachment.objects.count() == 0

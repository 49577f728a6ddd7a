import pytest

from documents.models import Document, DocumentRevision

pytestmark = pytest.mark.django_db

URL = "/api/v1/documents/"


def test_document_create_valid_returns_201_with_etag(user, client_for):
    """A new document belongs to the caller, starts at version 1 with revision 1."""
    response = client_for(user).post(
        URL, {"title": "Notes", "body": "# Hi"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["title"] == "Notes"
    assert body["body"] == "# Hi"
    assert body["version"] == 1
    assert body["role"] == "owner"
    assert body["owner"]["id"] == str(user.pk)
    assert body["last_editor"]["id"] == str(user.pk)
    assert body["trashed_at"] is None
    assert response["ETag"] == '"1"'
    revision = DocumentRevision.objects.get(document_id=body["id"])
    assert (revision.number, revision.title, revision.body) == (1, "Notes", "# Hi")


def test_document_create_empty_payload_makes_untitled_document(user, client_for):
    """Title and body default to empty strings."""
    response = client_for(user).post(URL, {}, format="json")

    assert response.status_code == 201
    assert (response.json()["title"], response.json()["body"]) == ("", "")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": 123}, "title"),
        ({"body": ["a"]}, "body"),
        ({"body": None}, "body"),
        ({"title": "x" * 201}, "title"),
        ({"title": "two\nlines"}, "title"),
        ({"body": "nul\x00byte"}, "body"),
        ({"owner": "someone"}, "owner"),
        ({"version": 7}, "version"),
    ],
)
def test_document_create_bad_input_returns_400_and_creates_nothing(
    user, client_for, payload, field
):
    """Wrong types, unknown fields and control characters are refused."""
    response = client_for(user).post(URL, payload, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"]
    assert not Document.objects.exists()


def test_document_create_non_object_json_returns_400(user, client_for):
    """A JSON list instead of an object is a 400."""
    response = client_for(user).post(URL, [1, 2], format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Document.objects.exists()


def test_document_create_malformed_json_returns_400(user, client_for):
    """Bytes that are not JSON are a 400 ``parse_error``."""
    response = client_for(user).post(
        URL, data=b"{nope", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert not Document.objects.exists()


def test_document_create_body_over_limit_returns_413(user, client_for, settings):
    """A body over DOCUMENTS_MAX_BODY_BYTES (in UTF-8 bytes) is a 413 ``too_large``."""
    settings.DOCUMENTS_MAX_BODY_BYTES = 10
    response = client_for(user).post(URL, {"body": "é" * 6}, format="json")

    assert response.status_code == 413
    assert response.json() == {
        "detail": "The document is too large.",
        "code": "too_large",
    }
    assert not Document.objects.exists()


def test_document_create_body_at_limit_is_accepted(user, client_for, settings):
    """Exactly DOCUMENTS_MAX_BODY_BYTES is still fine."""
    settings.DOCUMENTS_MAX_BODY_BYTES = 10
    response = client_for(user).post(URL, {"body": "é" * 5}, format="json")

    assert response.status_code == 201


def test_document_create_huge_request_refused_before_parsing(
    user, client_for, settings
):
    """A request far over the limit is a 413 without reading it as JSON."""
    settings.DOCUMENTS_MAX_BODY_BYTES = 1000
    response = client_for(user).post(
        URL, data=b"x" * 80_000, content_type="application/json"
    )

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Document.objects.exists()


def test_document_create_default_limit_is_one_megabyte(user, client_for):
    """Out of the box, a body just over 1 MB is refused."""
    response = client_for(user).post(
        URL, {"body": "a" * (1_048_576 + 1)}, format="json"
    )

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_document_create_retry_with_idempotency_key_creates_one_document(
    user, client_for
):
    """A retried create with the same Idempotency-Key replays the first answer."""
    client = client_for(user)
    payload = {"title": "Once", "body": "only once"}

    first = client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Document.objects.filter(owner=user).count() == 1


def test_document_create_reused_key_with_other_body_is_422(user, client_for):
    """The same Idempotency-Key with a different body is refused, nothing created."""
    client = client_for(user)
    client.post(URL, {"title": "A"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    response = client.post(
        URL, {"title": "B"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert list(
        Document.objects.filter(owner=user).values_list("title", flat=True)
    ) == ["A"]


def test_document_create_answers_location_of_the_new_document(user, client_for):
    """201 Created names the new document's URL in Location."""
    response = client_for(user).post(
        "/api/v1/documents/", {"title": "Where", "body": ""}, format="json"
    )

    assert response.status_code == 201
    assert response["Location"] == (
        f"http://testserver/api/v1/documents/{response.json()['id']}/"
    )

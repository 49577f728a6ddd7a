"""Local mode: multipart uploads streamed to disk, streamed downloads with Range."""

import hashlib

from django.core.files.uploadedfile import SimpleUploadedFile

import pytest

from attachments.adapters.storage import attachment_storage
from attachments.models import Attachment, StorageDeletion
from attachments.services import attachment_upload_local_reserve
from attachments.tests.factories import PDF_BYTES, PNG_BYTES, AttachmentFactory
from documents.models import DocumentAccess
from documents.tests.factories import DocumentAccessFactory, DocumentFactory
from project.exceptions import ApplicationError

pytestmark = pytest.mark.django_db


def send(
    client,
    document,
    data=PNG_BYTES,
    *,
    name="photo.png",
    content_type="image/png",
    extra=None,
):
    return client.post(
        f"/api/v1/documents/{document.pk}/attachments/",
        {
            "file": SimpleUploadedFile(name, data, content_type=content_type),
            **(extra or {}),
        },
        format="multipart",
    )


def stored_keys() -> list[str]:
    return list(
        attachment_storage().list_keys(
            prefix="attachments/",
            older_than=__import__("datetime").datetime.max.replace(
                tzinfo=__import__("datetime").UTC
            ),
        )
    )


def test_upload_local_multipart_stored_ready(user, auth_client):
    """A multipart upload is streamed to disk and answered ready in one call."""
    document = DocumentFactory(owner=user)
    response = send(auth_client, document, name="../../etc/Résumé.png")
    assert response.status_code == 201, response.json()
    body = response.json()
    attachment = Attachment.objects.get(pk=body["id"])
    assert body | {"id": None, "created_at": None, "completed_at": None} == {
        "id": None,
        "document": str(document.pk),
        "uploaded_by": str(user.pk),
        "filename": "Résumé.png",
        "content_type": "image/png",
        "size_bytes": len(PNG_BYTES),
        "status": "ready",
        "checksum_sha256": hashlib.sha256(PNG_BYTES).hexdigest(),
        "rejection_code": "",
        "created_at": None,
        "completed_at": None,
        "download_url": f"/api/v1/attachments/{attachment.pk}/download/",
    }
    assert attachment_storage().path(attachment.storage_key).read_bytes() == PNG_BYTES
    assert "Résumé" not in attachment.storage_key


def test_upload_local_too_large_refused_nothing_kept(settings, user, auth_client):
    """A file over the limit is a 413 and leaves neither a row nor a file."""
    settings.ATTACHMENT_MAX_BYTES = 50
    response = send(auth_client, DocumentFactory(owner=user))
    assert response.status_code == 413
    assert response.json() == {
        "detail": "File is too large.",
        "code": "too_large",
        "max_bytes": 50,
    }
    assert not Attachment.objects.exists()
    assert stored_keys() == []


def test_upload_local_over_quota_refused(settings, user, auth_client):
    """A file that would pass the user's quota is a 413 ``quota_exceeded``."""
    settings.ATTACHMENT_USER_QUOTA_BYTES = len(PNG_BYTES) + 10
    document = DocumentFactory(owner=user)
    AttachmentFactory(document=document, size_bytes=20)
    response = send(auth_client, document)
    assert response.status_code == 413
    assert response.json()["code"] == "quota_exceeded"
    assert Attachment.objects.count() == 1
    assert stored_keys() == []


def test_upload_local_reservation_beyond_quota_refused(settings, user):
    """A multipart upload's reservation is taken before its bytes arrive: a
    second one that fits only without the first is refused up front."""
    settings.ATTACHMENT_USER_QUOTA_BYTES = 3000
    document = DocumentFactory(owner=user)
    attachment_upload_local_reserve(user=user, document=document, max_bytes=2000)
    with pytest.raises(ApplicationError) as refused:
        attachment_upload_local_reserve(user=user, document=document, max_bytes=1500)
    assert refused.value.code == "quota_exceeded"
    assert Attachment.objects.count() == 1


def test_upload_local_pending_reservation_counts_against_new_uploads(
    settings, user, auth_client
):
    """While one upload streams (its reservation pending), another upload sees
    only the quota that is left and is refused before storing a byte."""
    settings.ATTACHMENT_USER_QUOTA_BYTES = 3000
    document = DocumentFactory(owner=user)
    attachment_upload_local_reserve(user=user, document=document, max_bytes=2990)
    response = send(auth_client, document)
    assert response.status_code == 413
    assert response.json()["code"] == "quota_exceeded"
    assert Attachment.objects.count() == 1
    assert stored_keys() == []


def test_upload_local_reservation_becomes_the_ready_row(user, auth_client):
    """The reservation turns into the attachment, sized to the file, not the body."""
    response = send(auth_client, DocumentFactory(owner=user))
    attachment = Attachment.objects.get()
    assert str(attachment.pk) == response.json()["id"]
    assert attachment.status == Attachment.Status.READY
    assert attachment.size_bytes == len(PNG_BYTES)
    assert attachment.filename == "photo.png"


def test_upload_local_missing_file_field_leaves_no_reservation(user, auth_client):
    """A multipart body without the file is a 400 and keeps no pending row."""
    document = DocumentFactory(owner=user)
    response = auth_client.post(
        f"/api/v1/documents/{document.pk}/attachments/",
        {"content_type": "image/png"},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "file_missing"
    assert not Attachment.objects.exists()


def test_upload_local_content_not_declared_type_refused(user, auth_client):
    """PDF bytes sent as a PNG are a 415 and nothing is kept."""
    response = send(auth_client, DocumentFactory(owner=user), PDF_BYTES)
    assert response.status_code == 415
    assert response.json() == {
        "detail": "The file's content does not match its declared type.",
        "code": "unsupported_type",
    }
    assert not Attachment.objects.exists()
    assert stored_keys() == []


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml"])
def test_upload_local_active_content_type_refused(user, auth_client, content_type):
    """HTML and SVG are not allowed types: a 415 ``unsupported_type``."""
    response = send(
        auth_client,
        DocumentFactory(owner=user),
        b"<svg onload=alert(1)></svg>",
        name="x.svg",
        content_type=content_type,
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_type"
    assert stored_keys() == []


def test_upload_local_text_file_accepted(user, auth_client):
    """A UTF-8 text file declared as text/markdown is accepted."""
    response = send(
        auth_client,
        DocumentFactory(owner=user),
        "# Notes — ünïcode\n".encode(),
        name="notes.md",
        content_type="text/markdown",
    )
    assert response.status_code == 201
    assert response.json()["content_type"] == "text/markdown"


def test_upload_local_without_file_field_refused(user, auth_client):
    """A multipart body without the ``file`` field is a 400 ``file_missing``."""
    response = auth_client.post(
        f"/api/v1/documents/{DocumentFactory(owner=user).pk}/attachments/",
        {"other": "x"},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Send the file in the multipart field 'file'.",
        "code": "file_missing",
    }


def test_upload_start_local_json_refused(user, auth_client):
    """Without a bucket there is no presigned upload: JSON starts are a 415."""
    response = auth_client.post(
        f"/api/v1/documents/{DocumentFactory(owner=user).pk}/attachments/",
        {"filename": "a.png", "content_type": "image/png", "size": 10},
        format="json",
    )
    assert response.status_code == 415
    assert response.json()["code"] == "multipart_required"


@pytest.mark.parametrize(
    ("role", "status_code", "code"),
    [(None, 404, "not_found"), (DocumentAccess.GrantRole.VIEWER, 403, "read_only")],
)
def test_upload_local_without_edit_rights_refused(
    user, auth_client, role, status_code, code
):
    """Strangers get a 404 and viewers a 403, before any byte is stored."""
    document = DocumentFactory()
    if role:
        DocumentAccessFactory(document=document, user=user, role=role)
    response = send(auth_client, document)
    assert response.status_code == status_code
    assert response.json()["code"] == code
    assert stored_keys() == []


@pytest.fixture
def ready_file(user):
    """Return a ready attachment with real bytes on disk, on the user's document."""
    data = bytes(range(256)) * 40
    attachment = AttachmentFactory(
        document=DocumentFactory(owner=user),
        filename="naïve report.pdf",
        content_type="application/pdf",
        size_bytes=len(data),
        checksum_sha256=hashlib.sha256(data).hexdigest(),
    )
    attachment_storage().put(key=attachment.storage_key, data=data, content_type="")
    return attachment, data


def test_download_local_full_file_streamed_as_attachment(ready_file, auth_client):
    """The whole file is streamed with an RFC 6266 disposition and nosniff."""
    attachment, data = ready_file
    response = auth_client.get(f"/api/v1/attachments/{attachment.pk}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Disposition"] == (
        "attachment; filename=\"naive report.pdf\"; filename*=UTF-8''na%C3%AFve%20report.pdf"
    )
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Length"] == str(len(data))
    assert response["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-40", 10200, 10239),
    ],
)
def test_download_local_range_partial_content(
    ready_file, auth_client, header, start, end
):
    """A single byte range is answered 206 with exactly those bytes."""
    attachment, data = ready_file
    response = auth_client.get(
        f"/api/v1/attachments/{attachment.pk}/download/", HTTP_RANGE=header
    )
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == data[start : end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
    assert response["Content-Length"] == str(end - start + 1)


def test_download_local_range_past_end_not_satisfiable(ready_file, auth_client):
    """A range starting past the end is a 416 naming the size."""
    attachment, data = ready_file
    response = auth_client.get(
        f"/api/v1/attachments/{attachment.pk}/download/", HTTP_RANGE="bytes=999999-"
    )
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(data)}"


def test_download_local_stale_if_range_full_file(ready_file, auth_client):
    """An If-Range that no longer matches gets the whole file, not a slice."""
    attachment, data = ready_file
    response = auth_client.get(
        f"/api/v1/attachments/{attachment.pk}/download/",
        HTTP_RANGE="bytes=0-9",
        HTTP_IF_RANGE='"stale"',
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data


def test_download_local_viewer_allowed(ready_file, client_for):
    """A viewer of the document may download."""
    attachment, _data = ready_file
    viewer = DocumentAccessFactory(document=attachment.document, role="viewer").user
    response = client_for(viewer).get(f"/api/v1/attachments/{attachment.pk}/download/")
    assert response.status_code == 200


def test_download_local_stranger_not_found(ready_file, client_for):
    """Someone without access gets a 404."""
    attachment, _data = ready_file
    stranger = DocumentAccessFactory().user
    response = client_for(stranger).get(
        f"/api/v1/attachments/{attachment.pk}/download/"
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Attachment not found.", "code": "not_found"}


def test_download_pending_conflict(user, auth_client):
    """A pending attachment cannot be downloaded yet: 409 ``not_ready``."""
    attachment = AttachmentFactory(
        document=DocumentFactory(owner=user), status=Attachment.Status.PENDING
    )
    response = auth_client.get(f"/api/v1/attachments/{attachment.pk}/download/")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This attachment is not ready.",
        "code": "not_ready",
    }


def test_download_declared_html_served_as_octet_stream(user, auth_client):
    """Active content is never served with a type a browser would render."""
    attachment = AttachmentFactory(
        document=DocumentFactory(owner=user), content_type="text/html", size_bytes=6
    )
    attachment_storage().put(
        key=attachment.storage_key, data=b"<html>", content_type=""
    )
    response = auth_client.get(f"/api/v1/attachments/{attachment.pk}/download/")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]


def test_attachment_list_viewer_sees_ready_and_pending(user, client_for):
    """The list holds ready and pending attachments, newest first, not rejected."""
    document = DocumentFactory()
    DocumentAccessFactory(document=document, user=user, role="viewer")
    ready = AttachmentFactory(document=document)
    pending = AttachmentFactory(document=document, status=Attachment.Status.PENDING)
    AttachmentFactory(document=document, status=Attachment.Status.REJECTED)
    response = client_for(user).get(f"/api/v1/documents/{document.pk}/attachments/")
    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["results"]] == [str(pending.pk), str(ready.pk)]
    assert body["next"] is None


@pytest.mark.parametrize("count", [1, 5])
def test_attachment_list_query_count_constant(
    user, auth_client, django_assert_num_queries, count
):
    """Listing costs the same number of queries for 1 and for 5 attachments."""
    document = DocumentFactory(owner=user)
    AttachmentFactory.create_batch(count, document=document)
    with django_assert_num_queries(2):
        response = auth_client.get(f"/api/v1/documents/{document.pk}/attachments/")
    assert len(response.json()["results"]) == count


def test_attachment_list_stranger_not_found(auth_client):
    """Listing attachments of an invisible document is a 404."""
    response = auth_client.get(f"/api/v1/documents/{DocumentFactory().pk}/attachments/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_attachment_detail_returns_metadata(ready_file, auth_client):
    """The metadata of a visible attachment is returned."""
    attachment, data = ready_file
    response = auth_client.get(f"/api/v1/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response.json()["size_bytes"] == len(data)


def test_attachment_delete_removes_row_and_file(
    ready_file, auth_client, django_capture_on_commit_callbacks
):
    """Deleting removes the row, then the file after the commit."""
    attachment, _data = ready_file
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete(f"/api/v1/attachments/{attachment.pk}/")
    assert response.status_code == 204
    assert not Attachment.objects.exists()
    assert not StorageDeletion.objects.exists()
    assert stored_keys() == []


def test_attachment_delete_viewer_forbidden(ready_file, client_for):
    """A viewer may not delete: 403 ``read_only`` and the file stays."""
    attachment, _data = ready_file
    viewer = DocumentAccessFactory(document=attachment.document, role="viewer").user
    response = client_for(viewer).delete(f"/api/v1/attachments/{attachment.pk}/")
    assert response.status_code == 403
    assert response.json()["code"] == "read_only"
    assert Attachment.objects.filter(pk=attachment.pk).exists()


def test_upload_local_answers_location_of_the_attachment(user, auth_client):
    """The multipart upload's 201 names the attachment's URL in Location."""
    response = send(auth_client, DocumentFactory(owner=user))

    assert response.status_code == 201
    assert response["Location"] == (
        f"http://testserver/api/v1/attachments/{response.json()['id']}/"
    )


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"a" * 100_000 + b"\x00", id="nul-after-100000-bytes"),
        pytest.param(b"caf\xe9", id="latin-1-not-utf-8"),
        pytest.param(b"a" * 2_000_000 + "é".encode()[:1], id="cut-after-two-chunks"),
    ],
)
def test_upload_local_text_checked_over_whole_file(user, auth_client, data):
    """A text/plain file that is not UTF-8 text all the way is refused (415)."""
    response = send(
        auth_client,
        DocumentFactory(owner=user),
        data,
        name="notes.txt",
        content_type="text/plain",
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_type"
    assert stored_keys() == []
    assert not Attachment.objects.exists()

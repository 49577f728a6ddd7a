"""Direct-to-S3 uploads against moto's S3 server: start, upload, complete, download."""

import hashlib
import threading

from django.db import connection

import httpx
import pytest

from attachments.adapters.storage import attachment_storage
from attachments.models import Attachment, StorageDeletion
from attachments.tests.factories import PDF_BYTES, PNG_BYTES, AttachmentFactory
from documents.models import DocumentAccess
from documents.tests.factories import DocumentAccessFactory, DocumentFactory

pytestmark = pytest.mark.django_db


def start(
    client, document, *, filename="photo.png", content_type="image/png", size=None
):
    return client.post(
        f"/api/v1/documents/{document.pk}/attachments/",
        {
            "filename": filename,
            "content_type": content_type,
            "size": len(PNG_BYTES) if size is None else size,
        },
        format="json",
    )


def upload(body: dict, data: bytes, content_type: str = "image/png") -> httpx.Response:
    upload = body["upload"]
    return httpx.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("ignored-name", data, content_type)},
        timeout=10,
    )


def test_upload_s3_presigned_post_complete_download_roundtrip(
    s3_bucket, user, auth_client, stored
):
    """A presigned POST upload completes ready and downloads through a signed URL."""
    document = DocumentFactory(owner=user)
    started = start(auth_client, document, filename="Übersicht 2026.png")
    assert started.status_code == 201, started.json()
    body = started.json()
    assert body["status"] == "pending"
    assert body["upload"]["fields"]["key"].startswith("attachments/")
    assert "Übersicht" not in body["upload"]["fields"]["key"]

    assert upload(body, PNG_BYTES).status_code in (200, 204)
    completed = auth_client.post(f"/api/v1/attachments/{body['id']}/complete/")

    assert completed.status_code == 200, completed.json()
    assert completed.json() | {"created_at": None, "completed_at": None} == {
        "id": body["id"],
        "document": str(document.pk),
        "uploaded_by": str(user.pk),
        "filename": "Übersicht 2026.png",
        "content_type": "image/png",
        "size_bytes": len(PNG_BYTES),
        "status": "ready",
        "checksum_sha256": hashlib.sha256(PNG_BYTES).hexdigest(),
        "rejection_code": "",
        "created_at": None,
        "completed_at": None,
        "download_url": f"/api/v1/attachments/{body['id']}/download/",
    }
    download = auth_client.get(f"/api/v1/attachments/{body['id']}/download/")
    assert download.status_code == 302
    assert "response-content-disposition" in download["Location"]
    followed = httpx.get(download["Location"], timeout=10)
    assert followed.status_code == 200
    assert followed.content == PNG_BYTES
    assert followed.headers["content-disposition"] == (
        'attachment; filename="Ubersicht 2026.png"; '
        "filename*=UTF-8''%C3%9Cbersicht%202026.png"
    )


def test_upload_start_s3_declared_too_large_refused(
    s3_bucket, settings, user, auth_client
):
    """A declared size over the limit is a 413 ``too_large`` and reserves nothing."""
    settings.ATTACHMENT_MAX_BYTES = 1000
    response = start(auth_client, DocumentFactory(owner=user), size=1001)
    assert response.status_code == 413
    assert response.json() == {
        "detail": "File is too large.",
        "code": "too_large",
        "max_bytes": 1000,
    }
    assert not Attachment.objects.exists()


def test_upload_start_s3_unsupported_type_refused(s3_bucket, user, auth_client):
    """A declared type outside the allowed list is a 415 ``unsupported_type``."""
    response = start(
        auth_client,
        DocumentFactory(owner=user),
        filename="x.svg",
        content_type="image/svg+xml",
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_type"
    assert not Attachment.objects.exists()


def test_upload_start_s3_over_quota_refused(s3_bucket, settings, user, auth_client):
    """Pending reservations count: a start that would pass the quota is a 413."""
    settings.ATTACHMENT_USER_QUOTA_BYTES = 1000
    document = DocumentFactory(owner=user)
    AttachmentFactory(
        document=document, size_bytes=600, status=Attachment.Status.PENDING
    )
    response = start(auth_client, document, size=500)
    assert response.status_code == 413
    assert response.json() == {
        "detail": "Your storage quota is used up.",
        "code": "quota_exceeded",
        "quota_bytes": 1000,
    }
    assert Attachment.objects.count() == 1


@pytest.mark.parametrize(
    ("role", "status_code", "code"),
    [(None, 404, "not_found"), (DocumentAccess.GrantRole.VIEWER, 403, "read_only")],
)
def test_upload_start_s3_without_edit_rights_refused(
    s3_bucket, user, auth_client, role, status_code, code
):
    """Strangers get a 404 and viewers a 403; editors and owners may attach."""
    document = DocumentFactory()
    if role:
        DocumentAccessFactory(document=document, user=user, role=role)
    response = start(auth_client, document)
    assert response.status_code == status_code
    assert response.json()["code"] == code
    assert not Attachment.objects.exists()


def test_upload_start_s3_editor_allowed(s3_bucket, user, auth_client):
    """An editor of someone else's document may start an upload."""
    document = DocumentFactory()
    DocumentAccessFactory(document=document, user=user, role="editor")
    assert start(auth_client, document).status_code == 201


def test_upload_complete_s3_body_larger_than_declared_rejected(
    s3_bucket, user, auth_client, stored, django_capture_on_commit_callbacks
):
    """A stored object larger than declared is deleted and the row ``rejected``."""
    body = start(auth_client, DocumentFactory(owner=user)).json()
    key = body["upload"]["fields"]["key"]
    stored_bytes = PNG_BYTES + b"\x00" * 100
    attachment_storage().put(key=key, data=stored_bytes, content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(f"/api/v1/attachments/{body['id']}/complete/")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The stored file does not have the declared size.",
        "code": "size_mismatch",
    }
    attachment = Attachment.objects.get(pk=body["id"])
    assert (attachment.status, attachment.rejection_code) == (
        "rejected",
        "size_mismatch",
    )
    assert stored(key) is None
    assert not StorageDeletion.objects.exists()


def test_upload_complete_s3_wrong_type_rejected(
    s3_bucket, user, auth_client, stored, django_capture_on_commit_callbacks
):
    """Bytes of another type than declared are rejected with a 415 at completion."""
    body = start(auth_client, DocumentFactory(owner=user), size=len(PDF_BYTES)).json()
    assert upload(body, PDF_BYTES).status_code in (200, 204)
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(f"/api/v1/attachments/{body['id']}/complete/")
    assert response.status_code == 415
    assert response.json() == {
        "detail": "The file's content does not match its declared type.",
        "code": "unsupported_type",
    }
    assert Attachment.objects.get(pk=body["id"]).status == "rejected"
    assert stored(body["upload"]["fields"]["key"]) is None


def test_upload_complete_s3_nothing_uploaded_conflict(s3_bucket, user, auth_client):
    """Completing before the object exists is a 409 and leaves the upload pending."""
    body = start(auth_client, DocumentFactory(owner=user)).json()
    response = auth_client.post(f"/api/v1/attachments/{body['id']}/complete/")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "No file was uploaded for this attachment yet.",
        "code": "upload_missing",
    }
    assert Attachment.objects.get(pk=body["id"]).status == "pending"


def test_upload_complete_s3_rejected_again_conflict(s3_bucket, user, auth_client):
    """Completing a rejected upload again is a 409 naming the first reason."""
    attachment = AttachmentFactory(
        document=DocumentFactory(owner=user),
        status=Attachment.Status.REJECTED,
        rejection_code="size_mismatch",
    )
    response = auth_client.post(f"/api/v1/attachments/{attachment.pk}/complete/")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This upload was rejected.",
        "code": "upload_rejected",
        "reason": "size_mismatch",
    }


def test_upload_complete_s3_other_users_attachment_not_found(s3_bucket, auth_client):
    """Another user's attachment is a 404, with no hint that it exists."""
    attachment = AttachmentFactory(status=Attachment.Status.PENDING)
    response = auth_client.post(f"/api/v1/attachments/{attachment.pk}/complete/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Attachment not found.", "code": "not_found"}


def test_upload_complete_s3_storage_down_unavailable(
    own_moto_server, user, auth_client
):
    """With S3 stopped, completion is a 503 and nothing becomes ready."""
    body = start(auth_client, DocumentFactory(owner=user)).json()
    assert upload(body, PNG_BYTES).status_code in (200, 204)
    own_moto_server.stop()
    own_moto_server.is_running = False
    response = auth_client.post(f"/api/v1/attachments/{body['id']}/complete/")
    assert response.status_code == 503
    assert response.json() == {
        "detail": "File storage is unavailable; try again shortly.",
        "code": "storage_unavailable",
    }
    assert response["Retry-After"] == "5"
    assert Attachment.objects.get(pk=body["id"]).status == "pending"


def test_attachment_delete_s3_storage_down_deletion_kept(
    own_moto_server, user, auth_client, django_capture_on_commit_callbacks
):
    """A delete while S3 is down succeeds and keeps the owed storage deletion."""
    attachment = AttachmentFactory(document=DocumentFactory(owner=user))
    own_moto_server.stop()
    own_moto_server.is_running = False
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete(f"/api/v1/attachments/{attachment.pk}/")
    assert response.status_code == 204
    assert not Attachment.objects.exists()
    owed = StorageDeletion.objects.get()
    assert (owed.storage_key, owed.attempts) == (attachment.storage_key, 1)


@pytest.mark.slow
@pytest.mark.postgresql  # row locks
@pytest.mark.django_db(transaction=True)
def test_upload_start_s3_concurrent_starts_never_pass_quota(
    s3_bucket, settings, client_for
):
    """Concurrent starts by one user on PostgreSQL reserve at most the quota."""
    settings.ATTACHMENT_USER_QUOTA_BYTES = 3 * 1000
    document = DocumentFactory()
    results: list[int] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            client = client_for(document.owner)
            results.append(start(client, document, size=1000).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [201] * 3 + [413] * 5
    assert Attachment.objects.filter(status="pending").count() == 3


def test_download_s3_versioned_bucket_serves_verified_version(
    s3_bucket, user, auth_client
):
    """On a versioned bucket a later overwrite of the key is never served."""
    storage = attachment_storage()
    storage.client.put_bucket_versioning(
        Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    body = start(auth_client, DocumentFactory(owner=user)).json()
    assert upload(body, PNG_BYTES).status_code in (200, 204)
    assert (
        auth_client.post(f"/api/v1/attachments/{body['id']}/complete/").status_code
        == 200
    )
    assert Attachment.objects.get(pk=body["id"]).storage_version
    tampered = b"\x89PNG" + b"\xff" * (len(PNG_BYTES) - 4)
    assert upload(body, tampered).status_code in (200, 204)
    download = auth_client.get(f"/api/v1/attachments/{body['id']}/download/")
    assert httpx.get(download["Location"], timeout=10).content == PNG_BYTES


def test_download_s3_cloudfront_signed_url(s3_bucket, settings, user, auth_client):
    """With a CloudFront key pair, downloads redirect to a verifiable signed URL."""
    import base64
    import json
    from urllib.parse import parse_qs, urlsplit

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from attachments.adapters.storage import _cloudfront_signer

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.AWS_CLOUDFRONT_KEY_ID = "K2JCJMDEHXQW5F"
    settings.AWS_CLOUDFRONT_KEY = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    settings.AWS_S3_CUSTOM_DOMAIN = "files.example.com"
    _cloudfront_signer.cache_clear()
    attachment = AttachmentFactory(document=DocumentFactory(owner=user))
    response = auth_client.get(f"/api/v1/attachments/{attachment.pk}/download/")
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    query = parse_qs(url.query)
    assert (url.scheme, url.netloc, url.path) == (
        "https",
        "files.example.com",
        f"/{attachment.storage_key}",
    )
    assert query["Key-Pair-Id"] == ["K2JCJMDEHXQW5F"]
    assert query["response-content-disposition"][0].startswith("attachment;")
    signed = response["Location"].split("&Expires=")[0]
    policy = json.dumps(
        {
            "Statement": [
                {
                    "Resource": signed,
                    "Condition": {
                        "DateLessThan": {"AWS:EpochTime": int(query["Expires"][0])}
                    },
                }
            ]
        },
        separators=(",", ":"),
    ).encode()
    signature = base64.b64decode(
        query["Signature"][0].replace("-", "+").replace("_", "=").replace("~", "/")
    )
    key.public_key().verify(
        signature,
        policy,
        padding.PKCS1v15(),
        hashes.SHA1(),  # noqa: S303
    )
    _cloudfront_signer.cache_clear()


def test_upload_start_s3_retry_with_idempotency_key_reserves_once(
    s3_bucket, user, auth_client
):
    """A retried upload start with the same Idempotency-Key makes one attachment."""
    document = DocumentFactory(owner=user)
    url = f"/api/v1/documents/{document.pk}/attachments/"
    payload = {"filename": "a.png", "content_type": "image/png", "size": 10}

    first = auth_client.post(url, payload, format="json", HTTP_IDEMPOTENCY_KEY="up-1")
    again = auth_client.post(url, payload, format="json", HTTP_IDEMPOTENCY_KEY="up-1")

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Attachment.objects.filter(document=document).count() == 1


def test_upload_s3_start_answers_location_of_the_attachment(
    s3_bucket, user, auth_client
):
    """Starting a presigned upload answers 201 with the attachment's Location."""
    started = start(auth_client, DocumentFactory(owner=user))

    assert started.status_code == 201
    assert started["Location"] == (
        f"http://testserver/api/v1/attachments/{started.json()['id']}/"
    )


# The two files: both passed a check of the first 8 KiB only.
BAD_TEXT = [
    pytest.param(b"a" * 100_000 + b"\x00", id="nul-after-100000-bytes"),
    pytest.param(b"caf\xe9", id="latin-1-not-utf-8"),
    pytest.param(b"a" * 2_000_000 + "é".encode()[:1], id="cut-after-two-chunks"),
]


@pytest.mark.parametrize("data", BAD_TEXT)
def test_upload_complete_s3_text_checked_over_whole_object(
    s3_bucket, user, auth_client, stored, data, django_capture_on_commit_callbacks
):
    """A text/plain object that is not UTF-8 text all the way is rejected (415)."""
    document = DocumentFactory(owner=user)
    body = start(
        auth_client,
        document,
        filename="notes.txt",
        content_type="text/plain",
        size=len(data),
    ).json()
    assert upload(body, data, "text/plain").status_code in (200, 204)
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(f"/api/v1/attachments/{body['id']}/complete/")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_type"
    assert Attachment.objects.get(pk=body["id"]).status == "rejected"
    assert stored(body["upload"]["fields"]["key"]) is None


def test_upload_complete_s3_long_text_with_split_characters_ready(
    s3_bucket, user, auth_client
):
    """Multi-megabyte UTF-8 text (characters across chunk edges) becomes ready."""
    data = ("ünïcødé € " * 300_000).encode()  # ~4.5 MB, several 1 MiB chunks
    body = start(
        auth_client,
        DocumentFactory(owner=user),
        filename="long.txt",
        content_type="text/plain",
        size=len(data),
    ).json()
    assert upload(body, data, "text/plain").status_code in (200, 204)
    response = auth_client.post(f"/api/v1/attachments/{body['id']}/complete/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ready"

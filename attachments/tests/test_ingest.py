"""Attachments made by the server from bytes it holds (document import), on S3."""

from django.core.files.uploadedfile import SimpleUploadedFile

import pytest

from attachments.ingest import (
    ServerFile,
    attachment_image_type,
    server_files_discard,
    server_files_store,
)
from attachments.models import Attachment, StorageDeletion
from attachments.tests.factories import PDF_BYTES, PNG_BYTES

pytestmark = pytest.mark.django_db


def test_import_on_s3_stores_images_in_the_bucket(s3_bucket, auth_client, stored):
    """In S3 mode an imported image's bytes are written to the bucket."""
    import base64

    uri = "data:image/png;base64," + base64.b64encode(PNG_BYTES).decode()
    html = f'<p><img src="{uri}" alt="dot"></p>'

    response = auth_client.post(
        "/api/v1/documents/import",
        {"file": SimpleUploadedFile("a.html", html.encode(), content_type="")},
        format="multipart",
    )

    assert response.status_code == 201
    attachment = Attachment.objects.get()
    assert stored(attachment.storage_key) == PNG_BYTES


def test_discard_deletes_stored_bytes_on_s3(
    s3_bucket, stored, django_capture_on_commit_callbacks
):
    """Discarded files leave the bucket and owe nothing once deleted."""
    item = ServerFile(filename="a.png", content_type="image/png", data=PNG_BYTES)
    server_files_store([item])
    assert stored(item.storage_key) == PNG_BYTES

    with django_capture_on_commit_callbacks(execute=True):
        server_files_discard(keys=[item.storage_key])

    assert stored(item.storage_key) is None
    assert not StorageDeletion.objects.exists()


@pytest.mark.parametrize(
    ("data", "expected"),
    [(PNG_BYTES, "image/png"), (PDF_BYTES, None), (b"", None), (b"text", None)],
)
def test_image_type_comes_from_the_bytes(data, expected):
    """Only bytes that are an allowed image type are accepted as images."""
    assert attachment_image_type(data) == expected


def test_image_type_refuses_images_not_allowed(settings):
    """An image type missing from ATTACHMENT_ALLOWED_TYPES is refused."""
    settings.ATTACHMENT_ALLOWED_TYPES = ["image/jpeg"]

    assert attachment_image_type(PNG_BYTES) is None


def test_export_on_s3_embeds_images_read_from_the_bucket(s3_bucket, user, auth_client):
    """A Word export in S3 mode reads the document's image from the bucket."""
    import io
    import zipfile

    from attachments.adapters.storage import attachment_storage
    from attachments.tests.factories import AttachmentFactory
    from documents.tests.factories import DocumentFactory

    doc = DocumentFactory(owner=user)
    attachment = AttachmentFactory(document=doc)
    attachment_storage().put(
        key=attachment.storage_key, data=PNG_BYTES, content_type="image/png"
    )
    doc.body = f"![dot](/api/v1/attachments/{attachment.pk}/download/)\n"
    doc.save()

    response = auth_client.get(f"/api/v1/documents/{doc.pk}/export?format=docx")

    archive = zipfile.ZipFile(io.BytesIO(response.content))
    media = [n for n in archive.namelist() if n.startswith("word/media/")]
    assert [archive.read(name) for name in media] == [PNG_BYTES]

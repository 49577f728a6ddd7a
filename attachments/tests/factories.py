import uuid

import factory

from accounts.tests.factories import UserFactory
from attachments.models import Attachment
from documents.tests.factories import DocumentFactory

PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
    b"\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" + b"\x00" * 64
)
PDF_BYTES = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n" + b" " * 64


class AttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attachment

    document = factory.SubFactory(DocumentFactory)
    uploaded_by = factory.LazyAttribute(lambda attachment: attachment.document.owner)
    filename = factory.Sequence(lambda n: f"file-{n}.png")
    content_type = "image/png"
    size_bytes = len(PNG_BYTES)
    status = Attachment.Status.READY
    storage_key = factory.LazyFunction(lambda: f"attachments/{uuid.uuid4().hex}")
    checksum_sha256 = ""


__all__ = ["AttachmentFactory", "PDF_BYTES", "PNG_BYTES", "UserFactory"]

"""A large local upload streams to disk with memory that does not grow with size."""

import hashlib
import io
import tracemalloc

from django.core.handlers.wsgi import WSGIRequest
from django.test import RequestFactory

import pytest
from rest_framework.test import force_authenticate

from attachments.adapters.storage import attachment_storage
from attachments.models import Attachment
from attachments.views import DocumentAttachmentsApi
from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db

BOUNDARY = "largeuploadboundary"
LINE = b"Quire large upload test line, plain UTF-8 text.\n"


class GeneratedMultipart(io.RawIOBase):
    """A multipart body produced on the fly, never held in memory whole."""

    def __init__(self, size: int) -> None:
        head = (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        self.parts = [head, None, f"\r\n--{BOUNDARY}--\r\n".encode()]
        self.size = size
        self.length = len(self.parts[0]) + size + len(self.parts[2])
        self.block = (LINE * (65536 // len(LINE) + 1))[:65536]
        self.part = 0
        self.offset = 0
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while self.part < 3:
            data = self.parts[self.part]
            if data is None:
                left = self.size - self.offset
                if left > 0:
                    take = min(left, len(self.block), n if n > 0 else len(self.block))
                    chunk = self.block[:take]
                    self.sha.update(chunk)
                    self.offset += take
                    return chunk
            else:
                if self.offset < len(data):
                    take = len(data) - self.offset if n < 0 else n
                    chunk = data[self.offset : self.offset + take]
                    self.offset += len(chunk)
                    return chunk
            self.part += 1
            self.offset = 0
        return b""


@pytest.mark.slow
def test_upload_local_large_file_bounded_memory(settings, user):
    """A 200 MiB upload is stored intact while Python memory stays under 16 MiB."""
    size = 200 * 1024 * 1024
    settings.ATTACHMENT_MAX_BYTES = 256 * 1024 * 1024
    settings.ATTACHMENT_USER_QUOTA_BYTES = 1024 * 1024 * 1024
    document = DocumentFactory(owner=user)
    body = GeneratedMultipart(size)
    environ = RequestFactory()._base_environ(
        PATH_INFO=f"/api/v1/documents/{document.pk}/attachments/",
        REQUEST_METHOD="POST",
        CONTENT_TYPE=f"multipart/form-data; boundary={BOUNDARY}",
        CONTENT_LENGTH=str(body.length),
        **{"wsgi.input": body},
    )
    request = WSGIRequest(environ)
    force_authenticate(request, user=user)
    view = DocumentAttachmentsApi.as_view()

    tracemalloc.start()
    try:
        response = view(request, document_id=document.pk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 201, response.data
    attachment = Attachment.objects.get(pk=response.data["id"])
    assert attachment.size_bytes == size
    assert attachment.checksum_sha256 == body.sha.hexdigest()
    assert attachment_storage().size(key=attachment.storage_key) == size
    assert peak < 16 * 1024 * 1024, f"peak traced memory {peak} bytes"

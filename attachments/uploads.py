"""Stream a multipart file straight into local storage, chunk by chunk.

Django's default handlers keep small files in memory and spool large ones to
a temporary file that is then copied again; this handler writes each chunk
once, to the final server-chosen key, hashing it on the way and stopping as
soon as the size limit is passed.
"""

import hashlib

from django.core.files.uploadhandler import (
    FileUploadHandler,
    SkipFile,
    StopFutureHandlers,
)
from django.utils.translation import gettext_lazy as _

from attachments.adapters.storage import HEAD_BYTES, LocalStorage
from attachments.services import ReceivedFile
from attachments.sniffing import TextCheck
from project import metrics
from project.exceptions import ApplicationError

FILE_FIELD = "file"


class StorageUploadHandler(FileUploadHandler):
    """Write the ``file`` field to ``storage`` under ``key``, at most ``max_bytes``."""

    chunk_size = 1024 * 1024

    def __init__(
        self,
        request=None,
        *,
        storage: LocalStorage,
        key: str,
        max_bytes: int,
        limit_error: ApplicationError,
    ) -> None:
        super().__init__(request)
        self.storage = storage
        self.key = key
        self.max_bytes = max_bytes
        self.limit_error = limit_error
        self.handle = None
        self.received: ReceivedFile | None = None
        self.sha = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.text = TextCheck()

    def new_file(self, field_name, file_name, content_type, *args, **kwargs) -> None:
        """Open the destination for the first ``file`` field; skip any other."""
        super().new_file(field_name, file_name, content_type, *args, **kwargs)
        if field_name != FILE_FIELD or self.handle is not None:
            raise SkipFile
        self.handle = self.storage.open_write(key=self.key)
        raise StopFutureHandlers

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        """Write, hash and count one chunk; stop the upload past the limit."""
        if self.handle is None:
            return None
        self.size += len(raw_data)
        if self.size > self.max_bytes:
            self.discard()
            metrics.record(
                "AttachmentRejected",
                1,
                unit="Count",
                dimensions={"reason": self.limit_error.code},
            )
            raise self.limit_error
        if len(self.head) < HEAD_BYTES:
            self.head += raw_data[: HEAD_BYTES - len(self.head)]
        self.sha.update(raw_data)
        self.text.feed(raw_data)
        self.handle.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> ReceivedFile | None:
        """Close the file and describe what was stored."""
        if self.handle is None:
            return None
        self.handle.close()
        self.received = ReceivedFile(
            storage_key=self.key,
            filename=self.file_name or "",
            content_type=(self.content_type or "").split(";")[0].strip().lower(),
            size_bytes=self.size,
            sha256=self.sha.hexdigest(),
            head=self.head,
            is_text=self.text.finish(),
        )
        return self.received

    def upload_complete(self) -> None:
        """Remove a partial file if the request ended before the file did."""
        if self.received is None:
            self.discard()

    def upload_interrupted(self) -> None:
        """Remove the partial file when the client goes away."""
        self.discard()

    def discard(self) -> None:
        """Close and delete whatever was written so far."""
        if self.handle is not None:
            self.handle.close()
            self.storage.delete(key=self.key)
        self.received = None


def too_large_error(max_bytes: int, *, quota: bool) -> ApplicationError:
    """Return the 413 answered when a streamed file passes ``max_bytes``."""
    if quota:
        return ApplicationError(
            _("Your storage quota is used up."), code="quota_exceeded", status=413
        )
    return ApplicationError(
        _("File is too large."),
        code="too_large",
        status=413,
        extra={"max_bytes": max_bytes},
    )

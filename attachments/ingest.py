"""Attachments made from bytes the server already holds (document import).

A document import pulls images out of a Word or HTML file; each becomes an
attachment under the same rules as an upload: the type decided from the
bytes (never from a name), the per-file limit, the allowed types and the
user's quota. The caller stores the bytes first (no transaction open), then
creates the rows inside its own transaction, and discards the stored bytes
if that transaction fails, so nothing is left half-created.
"""

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

import filetype

from attachments.adapters.storage import StorageUnavailable, attachment_storage
from attachments.housekeeping import storage_delete_later
from attachments.models import Attachment
from attachments.selectors import attachment_storage_used_bytes
from attachments.services import (
    attachment_clean_filename,
    attachment_new_key,
    quota_exceeded_error,
    storage_unavailable,
)
from documents.models import Document

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class ServerFile:
    """Bytes to become one attachment; ``id`` is chosen before the row exists."""

    filename: str
    content_type: str
    data: bytes
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    storage_key: str = field(default_factory=attachment_new_key)


def attachment_image_type(data: bytes) -> str | None:
    """Return the image type the bytes are, if attachments allow it, else None."""
    if not data or len(data) > settings.ATTACHMENT_MAX_BYTES:
        return None
    kind = filetype.guess(data[:8192])
    if kind is None or not kind.mime.startswith("image/"):
        return None
    if kind.mime not in settings.ATTACHMENT_ALLOWED_TYPES:
        return None
    return kind.mime


def server_files_store(files: Iterable[ServerFile]) -> None:
    """Write every file to storage; on a failure delete those written, then raise.

    Must run with no transaction open.
    """
    storage = attachment_storage()
    written: list[str] = []
    try:
        for item in files:
            storage.put(
                key=item.storage_key, data=item.data, content_type=item.content_type
            )
            written.append(item.storage_key)
    except StorageUnavailable:
        server_files_discard(keys=written)
        raise storage_unavailable() from None
    except BaseException:
        server_files_discard(keys=written)
        raise


def server_files_discard(*, keys: Iterable[str]) -> None:
    """Owe the deletion of stored files no row points to (retried if it fails)."""
    storage_delete_later(keys=keys)


def server_files_attach(
    *, user: "User", document: Document, files: list[ServerFile]
) -> list[Attachment]:
    """Create ready attachments for stored files, within the user's quota.

    Run inside the caller's transaction: the user's row is locked, as for
    uploads, so concurrent reservations cannot pass the quota together.
    """
    if not files:
        return []
    get_user_model().objects.select_for_update().only("pk").get(pk=user.pk)
    used = attachment_storage_used_bytes(user=user)
    total = sum(len(item.data) for item in files)
    if used + total > settings.ATTACHMENT_USER_QUOTA_BYTES:
        raise quota_exceeded_error()
    now = timezone.now()
    rows = [
        Attachment(
            id=item.id,
            document=document,
            uploaded_by=user,
            filename=attachment_clean_filename(item.filename),
            content_type=item.content_type,
            size_bytes=len(item.data),
            storage_key=item.storage_key,
            status=Attachment.Status.READY,
            checksum_sha256=hashlib.sha256(item.data).hexdigest(),
            completed_at=now,
        )
        for item in files
    ]
    for row in rows:
        row.full_clean(exclude=["document", "uploaded_by"])
    return Attachment.objects.bulk_create(rows)

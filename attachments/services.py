"""Every write on attachments: uploads, verification, deletion.

Storage is reached only through :mod:`attachments.adapters.storage`, never
while a database transaction is open. Stored bytes are deleted after the
deleting transaction commits, through :mod:`attachments.housekeeping`, which
also holds the cleanup jobs and the account and purge hooks.
"""

import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from attachments.adapters.storage import (
    PresignedPost,
    StorageUnavailable,
    attachment_storage,
)
from attachments.housekeeping import storage_delete_later
from attachments.models import Attachment
from attachments.selectors import (
    attachment_get_for_user,
    attachment_storage_used_bytes,
)
from attachments.sniffing import sniff_matches
from documents.models import Document, Role
from documents.selectors import document_get_for_user
from project import metrics
from project.exceptions import ApplicationError

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)


def storage_unavailable() -> ApplicationError:
    """Return the 503 answered whenever storage cannot be reached."""
    return ApplicationError(
        _("File storage is unavailable; try again shortly."),
        code="storage_unavailable",
        status=503,
        headers={"Retry-After": "5"},
    )


def attachment_new_key() -> str:
    """Return a fresh storage key under our prefix; never from user input."""
    return f"{settings.ATTACHMENT_KEY_PREFIX}{uuid.uuid4().hex}"


def attachment_clean_filename(filename: str) -> str:
    """Return a display name safe to store: no path, no control characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    name = name.strip(". ") or "file"
    return name[:255]


def attachment_check_declared(*, content_type: str, size_bytes: int) -> None:
    """Refuse a declared type or size the settings do not allow."""
    if size_bytes > settings.ATTACHMENT_MAX_BYTES:
        _rejected_metric("too_large")
        raise ApplicationError(
            _("File is too large."),
            code="too_large",
            status=413,
            extra={"max_bytes": settings.ATTACHMENT_MAX_BYTES},
        )
    if content_type not in settings.ATTACHMENT_ALLOWED_TYPES:
        _rejected_metric("unsupported_type")
        raise ApplicationError(
            _("This type of file is not allowed."),
            code="unsupported_type",
            status=415,
            extra={"allowed_types": list(settings.ATTACHMENT_ALLOWED_TYPES)},
        )


LOCAL_PLACEHOLDER_NAME = "upload"


def attachment_quota_remaining_bytes(*, user: "User") -> int:
    """Return how many more bytes the user may store (never negative)."""
    used = attachment_storage_used_bytes(user=user)
    return max(settings.ATTACHMENT_USER_QUOTA_BYTES - used, 0)


def quota_exceeded_error() -> ApplicationError:
    _rejected_metric("quota_exceeded")
    return ApplicationError(
        _("Your storage quota is used up."),
        code="quota_exceeded",
        status=413,
        extra={"quota_bytes": settings.ATTACHMENT_USER_QUOTA_BYTES},
    )


def _rejected_metric(reason: str) -> None:
    metrics.record("AttachmentRejected", 1, unit="Count", dimensions={"reason": reason})


@transaction.atomic
def _attachment_create_reserved(
    *,
    user: "User",
    document: Document,
    filename: str,
    content_type: str,
    size_bytes: int,
    storage_key: str,
    status: str,
    checksum_sha256: str = "",
) -> Attachment:
    """Create the row if the user's quota allows, serialised per user.

    Locking the user's row makes concurrent reservations by one user queue
    up, so ready plus pending bytes can never pass the quota.
    """
    get_user_model().objects.select_for_update().only("pk").get(pk=user.pk)
    used = attachment_storage_used_bytes(user=user)
    if used + size_bytes > settings.ATTACHMENT_USER_QUOTA_BYTES:
        raise quota_exceeded_error()
    attachment = Attachment(
        document=document,
        uploaded_by=user,
        filename=filename,
        content_type=content_type,
        size_bytes=size_bytes,
        storage_key=storage_key,
        status=status,
        checksum_sha256=checksum_sha256,
        completed_at=timezone.now() if status == Attachment.Status.READY else None,
    )
    attachment.full_clean()
    attachment.save()
    return attachment


def attachment_upload_start(
    *,
    user: "User",
    document_id: UUID | str,
    filename: str,
    content_type: str,
    size_bytes: int,
) -> tuple[Attachment, PresignedPost]:
    """Reserve quota for a direct-to-S3 upload and sign its POST policy."""
    document = document_get_for_user(
        user=user, document_id=document_id, minimum_role=Role.EDITOR
    )
    storage = attachment_storage()
    if not storage.is_direct_upload:
        raise ApplicationError(
            _("Send the file as multipart/form-data in the field 'file'."),
            code="multipart_required",
            status=415,
        )
    attachment_check_declared(content_type=content_type, size_bytes=size_bytes)
    attachment = _attachment_create_reserved(
        user=user,
        document=document,
        filename=attachment_clean_filename(filename),
        content_type=content_type,
        size_bytes=size_bytes,
        storage_key=attachment_new_key(),
        status=Attachment.Status.PENDING,
    )
    post = storage.presigned_post(
        key=attachment.storage_key,
        content_type=content_type,
        size_bytes=size_bytes,
        expires_in=settings.ATTACHMENT_UPLOAD_EXPIRES_SECONDS,
    )
    return attachment, post


def _attachment_reject(*, attachment: Attachment, error: ApplicationError) -> None:
    with transaction.atomic():
        locked = Attachment.objects.select_for_update().filter(pk=attachment.pk).first()
        if locked is not None and locked.status == Attachment.Status.PENDING:
            locked.status = Attachment.Status.REJECTED
            locked.rejection_code = error.code
            locked.save(update_fields=["status", "rejection_code", "updated_at"])
        storage_delete_later(keys=[attachment.storage_key])
    _rejected_metric(error.code)
    logger.info("attachment %s rejected: %s", attachment.pk, error.code)
    raise error


def attachment_upload_complete(
    *, user: "User", attachment_id: UUID | str
) -> Attachment:
    """Check what is actually stored, then mark the attachment ready.

    The object must exist, have exactly the declared size within the limits
    and be of the declared type (binary types by their first bytes, text
    types checked over the whole object as it streams). Anything else deletes the
    object, marks the row ``rejected`` and answers with the reason.
    """
    attachment = attachment_get_for_user(
        user=user, attachment_id=attachment_id, minimum_role=Role.EDITOR
    )
    if attachment.status == Attachment.Status.READY:
        return attachment
    if attachment.status == Attachment.Status.REJECTED:
        raise ApplicationError(
            _("This upload was rejected."),
            code="upload_rejected",
            status=409,
            extra={"reason": attachment.rejection_code},
        )
    storage = attachment_storage()
    try:
        info = storage.stat(key=attachment.storage_key)
        if info is None:
            raise ApplicationError(
                _("No file was uploaded for this attachment yet."),
                code="upload_missing",
                status=409,
            )
        if info.size_bytes > settings.ATTACHMENT_MAX_BYTES:
            _attachment_reject(
                attachment=attachment,
                error=ApplicationError(
                    _("File is too large."), code="too_large", status=413
                ),
            )
        if info.size_bytes != attachment.size_bytes:
            _attachment_reject(
                attachment=attachment,
                error=ApplicationError(
                    _("The stored file does not have the declared size."),
                    code="size_mismatch",
                    status=400,
                ),
            )
        digest = storage.digest(
            key=attachment.storage_key,
            limit_bytes=attachment.size_bytes,
            version=info.version,
        )
    except StorageUnavailable:
        raise storage_unavailable() from None
    if digest is None or digest.size_bytes != attachment.size_bytes:
        _attachment_reject(
            attachment=attachment,
            error=ApplicationError(
                _("The stored file changed while it was checked."),
                code="size_mismatch",
                status=400,
            ),
        )
    if not sniff_matches(
        head=digest.head,
        declared_type=attachment.content_type,
        is_text=digest.is_text,
    ):
        _attachment_reject(
            attachment=attachment,
            error=ApplicationError(
                _("The file's content does not match its declared type."),
                code="unsupported_type",
                status=415,
            ),
        )
    with transaction.atomic():
        locked = Attachment.objects.select_for_update().filter(pk=attachment.pk).first()
        if locked is None:
            raise ApplicationError(
                _("Attachment not found."), code="not_found", status=404
            )
        if locked.status != Attachment.Status.PENDING:
            raise ApplicationError(
                _("This upload is no longer pending."),
                code="not_pending",
                status=409,
            )
        locked.status = Attachment.Status.READY
        locked.storage_version = info.version
        locked.checksum_sha256 = digest.sha256
        locked.completed_at = timezone.now()
        locked.save(
            update_fields=[
                "status",
                "storage_version",
                "checksum_sha256",
                "completed_at",
                "updated_at",
            ]
        )
    metrics.record(
        "AttachmentUploadBytes",
        locked.size_bytes,
        unit="Bytes",
        dimensions={"mode": "s3"},
    )
    return locked


@dataclass
class ReceivedFile:
    """A file streamed to local storage by the upload handler."""

    storage_key: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    head: bytes
    is_text: bool


def attachment_upload_local_reserve(
    *, user: "User", document: Document, max_bytes: int
) -> Attachment:
    """Reserve ``max_bytes`` of quota for a multipart upload before it streams.

    The pending row counts against the quota like a presigned upload's, so
    of two concurrent uploads that would pass the quota together, the second
    is refused here, before any of its bytes are stored. Its placeholder
    name and type are replaced by :func:`attachment_upload_local`.
    """
    return _attachment_create_reserved(
        user=user,
        document=document,
        filename=LOCAL_PLACEHOLDER_NAME,
        content_type="application/octet-stream",
        size_bytes=max_bytes,
        storage_key=attachment_new_key(),
        status=Attachment.Status.PENDING,
    )


def attachment_upload_local_abandon(*, reservation: Attachment) -> None:
    """Drop a reservation whose upload failed, and whatever it stored."""
    Attachment.objects.filter(
        pk=reservation.pk, status=Attachment.Status.PENDING
    ).delete()
    attachment_storage().delete(key=reservation.storage_key)


def attachment_upload_local(
    *,
    reservation: Attachment,
    received: ReceivedFile,
    content_type: str | None = None,
) -> Attachment:
    """Verify a file streamed to local storage and turn its reservation ready.

    On any refusal the reservation and the stored file are deleted before the
    error is raised.
    """
    declared = content_type or received.content_type
    try:
        if received.storage_key != reservation.storage_key:
            raise ValueError("the file was not stored under its reservation's key")
        attachment_check_declared(content_type=declared, size_bytes=received.size_bytes)
        if not sniff_matches(
            head=received.head, declared_type=declared, is_text=received.is_text
        ):
            _rejected_metric("unsupported_type")
            raise ApplicationError(
                _("The file's content does not match its declared type."),
                code="unsupported_type",
                status=415,
            )
        reservation.filename = attachment_clean_filename(received.filename)
        reservation.content_type = declared
        reservation.size_bytes = received.size_bytes  # at most the reservation
        reservation.checksum_sha256 = received.sha256
        reservation.status = Attachment.Status.READY
        reservation.completed_at = timezone.now()
        reservation.full_clean()
        reservation.save()
    except BaseException:
        attachment_upload_local_abandon(reservation=reservation)
        raise
    metrics.record(
        "AttachmentUploadBytes",
        reservation.size_bytes,
        unit="Bytes",
        dimensions={"mode": "local"},
    )
    return reservation


def attachment_delete(*, user: "User", attachment_id: UUID | str) -> None:
    """Delete the attachment; its stored bytes go after the commit."""
    attachment = attachment_get_for_user(
        user=user, attachment_id=attachment_id, minimum_role=Role.EDITOR
    )
    with transaction.atomic():
        deleted, _rows = Attachment.objects.filter(pk=attachment.pk).delete()
        if deleted:
            storage_delete_later(keys=[attachment.storage_key])

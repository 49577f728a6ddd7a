"""Attachment housekeeping: owed storage deletions, cleanup, account hooks.

Stored bytes are deleted after the deleting transaction commits, and every
owed deletion is written down as a :class:`StorageDeletion` row first, so a
failure is retried (by ``cleanup_attachments``), not lost. The same command
expires stale pending uploads and deletes orphaned objects. The document
purge hook and the account export/deletion contributor registered in
:mod:`attachments.apps` live here too.
"""

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from attachments.adapters.storage import StorageUnavailable, attachment_storage
from attachments.models import Attachment, StorageDeletion
from project.fields import iso_utc

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)


def storage_delete_later(*, keys: Iterable[str]) -> None:
    """Record that ``keys`` must be deleted and try once after the commit."""
    keys = [key for key in keys if key]
    if not keys:
        return
    StorageDeletion.objects.bulk_create(
        [StorageDeletion(storage_key=key) for key in keys], ignore_conflicts=True
    )
    transaction.on_commit(lambda: storage_deletions_process(keys=keys), robust=True)


def storage_deletions_process(
    *, keys: Iterable[str] | None = None, dry_run: bool = False
) -> tuple[int, int]:
    """Delete the owed stored objects; return (deleted, failed) counts."""
    owed = StorageDeletion.objects.order_by("created_at")
    if keys is not None:
        owed = owed.filter(storage_key__in=list(keys))
    storage = attachment_storage()
    deleted = failed = 0
    for row in owed.iterator():
        if dry_run:
            deleted += 1
            continue
        try:
            storage.delete(key=row.storage_key)
        except StorageUnavailable as error:
            failed += 1
            StorageDeletion.objects.filter(pk=row.pk).update(
                attempts=row.attempts + 1,
                last_error=str(error)[:255],
                updated_at=timezone.now(),
            )
            logger.warning("storage delete of %s failed", row.storage_key)
            continue
        StorageDeletion.objects.filter(pk=row.pk).delete()
        deleted += 1
    return deleted, failed


def attachments_delete_for_documents(document_ids: Iterable[UUID]) -> None:
    """Purge hook: drop the documents' attachments and owe their bytes."""
    attachments = Attachment.objects.filter(document_id__in=list(document_ids))
    keys = list(attachments.values_list("storage_key", flat=True))
    attachments.delete()
    storage_delete_later(keys=keys)


def attachments_delete_for_user(user: "User") -> None:
    """Account deletion: drop what the user uploaded or whose document they own."""
    attachments = Attachment.objects.filter(
        Q(uploaded_by=user) | Q(document__owner=user)
    )
    keys = list(attachments.values_list("storage_key", flat=True))
    attachments.delete()
    storage_delete_later(keys=keys)


def attachments_expire_pending(*, dry_run: bool = False) -> list[str]:
    """Drop pending uploads older than the TTL; return their storage keys."""
    cutoff = timezone.now() - timedelta(seconds=settings.ATTACHMENT_PENDING_TTL_SECONDS)
    stale = Attachment.objects.filter(
        status=Attachment.Status.PENDING, created_at__lt=cutoff
    )
    keys = list(stale.values_list("storage_key", flat=True))
    if dry_run or not keys:
        return keys
    with transaction.atomic():
        Attachment.objects.filter(
            storage_key__in=keys, status=Attachment.Status.PENDING
        ).delete()
        storage_delete_later(keys=keys)
    return keys


def attachments_delete_orphans(*, dry_run: bool = False, progress=None) -> list[str]:
    """Delete stored objects under our prefix that no row points to.

    Only objects older than the grace period count: a local upload writes its
    file before its row exists.
    """
    storage = attachment_storage()
    cutoff = timezone.now() - timedelta(
        seconds=settings.ATTACHMENT_ORPHAN_GRACE_SECONDS
    )
    orphans: list[str] = []
    batch: list[str] = []

    def flush() -> None:
        known = set(
            Attachment.objects.filter(storage_key__in=batch).values_list(
                "storage_key", flat=True
            )
        )
        orphans.extend(key for key in batch if key not in known)
        batch.clear()

    for key in storage.list_keys(
        prefix=settings.ATTACHMENT_KEY_PREFIX, older_than=cutoff
    ):
        batch.append(key)
        if progress is not None:
            progress.update(1)
        if len(batch) >= 500:
            flush()
    flush()
    if not dry_run:
        for key in orphans:
            storage.delete(key=key)
            StorageDeletion.objects.filter(storage_key=key).delete()
    return orphans


def attachments_export_for_user(user: "User") -> list[dict]:
    """Return the metadata of the user's uploads, with their download paths."""
    from django.urls import reverse

    rows = Attachment.objects.filter(uploaded_by=user).order_by("created_at")
    return [
        {
            "id": str(row.pk),
            "document": str(row.document_id),
            "filename": row.filename,
            "content_type": row.content_type,
            "size_bytes": row.size_bytes,
            "status": row.status,
            "checksum_sha256": row.checksum_sha256,
            "created_at": iso_utc(row.created_at),
            "download_url": reverse("attachments:attachment-download", args=[row.pk])
            if row.status == Attachment.Status.READY
            else None,
        }
        for row in rows
    ]

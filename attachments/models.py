"""Files attached to documents, and the storage deletions still owed."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from project.models import BaseModel


class Attachment(BaseModel):
    """A file attached to a document; its bytes live in storage under ``storage_key``.

    ``size_bytes`` is the declared size while ``pending`` (it reserves quota)
    and the verified stored size once ``ready``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        REJECTED = "rejected", "Rejected"

    document = models.ForeignKey(
        "documents.Document", on_delete=models.CASCADE, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size_bytes = models.PositiveBigIntegerField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    storage_key = models.CharField(max_length=512, unique=True, editable=False)
    storage_version = models.CharField(
        max_length=1024,
        blank=True,
        editable=False,
        help_text="Version id of the verified object on a versioned bucket.",
    )
    checksum_sha256 = models.CharField(max_length=64, blank=True)
    rejection_code = models.CharField(max_length=64, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["document", "-created_at"]),
            models.Index(
                fields=["uploaded_by", "status"],
                condition=Q(status__in=["pending", "ready"]),
                name="attachments_quota_idx",
            ),
            models.Index(
                fields=["created_at"],
                condition=Q(status="pending"),
                name="attachments_pending_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "ready", "rejected"]),
                name="attachments_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.filename


class StorageDeletion(BaseModel):
    """A stored object that must be deleted; removed once storage confirms it.

    Rows are written in the same transaction that drops the attachment, so a
    failed or interrupted delete is retried by ``cleanup_attachments``.
    """

    storage_key = models.CharField(max_length=512, unique=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return self.storage_key

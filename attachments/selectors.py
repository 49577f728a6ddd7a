"""Reads of attachments, scoped to what the caller may see."""

from typing import TYPE_CHECKING
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from attachments.models import Attachment
from documents.models import Role
from documents.selectors import document_get_for_user
from project.exceptions import NotFound

if TYPE_CHECKING:
    from accounts.models import User


def attachment_get_for_user(
    *, user: "User", attachment_id: UUID | str, minimum_role: Role = Role.VIEWER
) -> Attachment:
    """Return the attachment if the user has ``minimum_role`` on its document.

    An attachment on a document the user cannot see is a 404, like the
    document itself; a weaker role is a 403 ``read_only``.
    """
    try:
        attachment = Attachment.objects.get(pk=attachment_id)
    except (Attachment.DoesNotExist, ValueError, ValidationError):
        raise NotFound(_("Attachment not found.")) from None
    try:
        document_get_for_user(
            user=user, document_id=attachment.document_id, minimum_role=minimum_role
        )
    except NotFound:
        raise NotFound(_("Attachment not found.")) from None
    return attachment


def attachment_list_for_document(
    *, user: "User", document_id: UUID | str
) -> QuerySet[Attachment]:
    """Return the document's ready and pending attachments, newest first."""
    document = document_get_for_user(user=user, document_id=document_id)
    return (
        Attachment.objects.filter(document=document)
        .exclude(status=Attachment.Status.REJECTED)
        .order_by("-created_at", "-id")
    )


def attachment_storage_used_bytes(*, user: "User") -> int:
    """Return the bytes counted against the user's quota (ready plus pending)."""
    total = Attachment.objects.filter(
        uploaded_by=user,
        status__in=[Attachment.Status.READY, Attachment.Status.PENDING],
    ).aggregate(total=Sum("size_bytes"))["total"]
    return int(total or 0)


def attachments_deletion_summary(user: "User") -> dict[str, int]:
    """Return how many stored files deleting ``user`` erases."""
    return {
        "stored files": Attachment.objects.filter(
            Q(uploaded_by=user) | Q(document__owner=user)
        ).count()
    }


def attachment_list_ready(*, document_id: UUID | str) -> QuerySet[Attachment]:
    """Return a document's ready attachments, oldest first (access already checked)."""
    return Attachment.objects.filter(
        document_id=document_id, status=Attachment.Status.READY
    ).order_by("created_at", "id")

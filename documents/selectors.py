"""Reads of documents, scoped to what the caller may see."""

from typing import TYPE_CHECKING
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    CharField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils.translation import gettext_lazy as _

from documents.models import ROLE_RANK, Document, DocumentAccess, Role
from project.exceptions import ApplicationError, NotFound

if TYPE_CHECKING:
    from accounts.models import User


def document_list_visible(
    *, user: "User", include_trashed: bool = False
) -> QuerySet[Document]:
    """Return documents the user owns or was granted, each annotated with ``role``."""
    grant = DocumentAccess.objects.filter(document=OuterRef("pk"), user=user).values(
        "role"
    )[:1]
    qs = Document.objects.annotate(
        granted_role=Subquery(grant),
        role=Case(
            When(owner=user, then=Value(Role.OWNER.value)),
            default=Subquery(grant),
            output_field=CharField(),
        ),
    ).filter(Q(owner=user) | Q(granted_role__isnull=False))
    if not include_trashed:
        qs = qs.filter(trashed_at__isnull=True)
    return qs


def document_get_for_user(
    *,
    user: "User",
    document_id: UUID | str,
    minimum_role: Role = Role.VIEWER,
    include_trashed: bool = False,
) -> Document:
    """Return the document with ``.role`` set, or raise.

    A document the user cannot see is a 404 (no existence leak); one the user
    can see with a weaker role than ``minimum_role`` is a 403 ``read_only``.
    """
    try:
        document = document_list_visible(
            user=user, include_trashed=include_trashed
        ).get(pk=document_id)
    except (Document.DoesNotExist, ValueError, ValidationError):
        raise NotFound(_("Document not found.")) from None
    if ROLE_RANK[Role(document.role)] < ROLE_RANK[minimum_role]:
        raise ApplicationError(
            _("You have read-only access to this document."),
            code="read_only",
            status=403,
        )
    return document

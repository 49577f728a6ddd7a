"""Writes to documents: create, compare-and-swap updates, revisions, trash, sharing."""

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from documents.hooks import run_purge_hooks
from documents.models import (
    Document,
    DocumentAccess,
    DocumentRevision,
    DocumentVersion,
    Role,
)
from project.exceptions import ApplicationError, NotFound
from project.fields import iso_utc

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)


class VersionConflict(ApplicationError):
    """The document moved on since the caller's ``If-Match``; carries the current one."""

    def __init__(self, document: Document) -> None:
        super().__init__(
            _("The document was changed by someone else."),
            code="precondition_failed",
            status=412,
        )
        self.document = document


def _body_limit() -> int:
    return settings.DOCUMENTS_MAX_BODY_BYTES


def check_body_size(body: str) -> int:
    size = len(body.encode("utf-8"))
    if size > _body_limit():
        raise ApplicationError(
            _("The document is too large."), code="too_large", status=413
        )
    return size


def _record_revision(
    *,
    document: Document,
    author: "User",
    now,
    restored_from: int | None = None,
    merged_from: tuple[int, int] | None = None,
) -> DocumentRevision:
    """Record the document's current title and body as a revision.

    Saves by the same author within ``DOCUMENTS_AUTOSAVE_WINDOW_SECONDS`` of
    the start of that author's latest revision fold into it; another author,
    a restore, a merge, or the end of the window starts a new one, and a
    revision made by a restore or a merge is never folded into. A save that
    changes nothing leaves no revision (a merge whose result is the current
    text included). Runs while the document row is locked by the
    compare-and-swap update, so revision numbers cannot collide.
    """
    _record_version(document)
    latest = (
        DocumentRevision.objects.filter(document=document).order_by("-number").first()
    )
    size = len(document.body.encode("utf-8"))
    if restored_from is None and latest is not None:
        if latest.title == document.title and latest.body == document.body:
            return latest
        window = timedelta(seconds=settings.DOCUMENTS_AUTOSAVE_WINDOW_SECONDS)
        if (
            merged_from is None
            and latest.author_id == author.pk
            and latest.restored_from is None
            and latest.merge_base_version is None
            and now - latest.created_at < window
        ):
            latest.title = document.title
            latest.body = document.body
            latest.size_bytes = size
            latest.save(update_fields=["title", "body", "size_bytes", "updated_at"])
            return latest
    return DocumentRevision.objects.create(
        document=document,
        number=(latest.number + 1) if latest else 1,
        author=author,
        title=document.title,
        body=document.body,
        size_bytes=size,
        restored_from=restored_from,
        merge_base_version=merged_from[0] if merged_from else None,
        merge_current_version=merged_from[1] if merged_from else None,
    )


def _record_version(document: Document) -> None:
    """Keep the document's current version as a merge base; drop the oldest.

    Runs in the transaction of the write that made the version, so a
    version is kept exactly when it was saved.
    """
    DocumentVersion.objects.create(
        document=document,
        version=document.version,
        title=document.title,
        body=document.body,
    )
    keep = settings.DOCUMENTS_MERGE_BASE_VERSIONS
    DocumentVersion.objects.filter(
        document=document, version__lte=document.version - keep
    ).delete()


def _fresh(document_id: UUID, role: str) -> Document:
    document = Document.objects.select_related("owner", "last_editor").get(
        pk=document_id
    )
    document.role = role
    return document


def document_create(*, owner: "User", title: str = "", body: str = "") -> Document:
    """Create a document owned by ``owner`` with its first revision."""
    check_body_size(body)
    with transaction.atomic():
        document = Document(owner=owner, title=title, body=body, last_editor=owner)
        document.full_clean(exclude=["owner", "last_editor"])
        document.save()
        _record_revision(document=document, author=owner, now=timezone.now())
    document.role = Role.OWNER.value
    return document


def document_compare_and_swap(
    *,
    document: Document,
    user: "User",
    expected_version: int | None,
    changes: dict,
    restored_from: int | None = None,
    merged_from: tuple[int, int] | None = None,
) -> Document:
    """Apply ``changes`` only if the row is still at ``expected_version``.

    The check and the write are one ``UPDATE … WHERE id AND version``: of
    concurrent writers holding the same version exactly one wins, the others
    get :class:`VersionConflict` with the current document. With
    ``expected_version=None`` (no ``If-Match``, or ``*``) the write applies to
    whatever version is current when it runs, so a concurrent write never
    makes it a 412.
    """
    now = timezone.now()
    rows = Document.objects.filter(pk=document.pk, trashed_at__isnull=True)
    if expected_version is not None:
        rows = rows.filter(version=expected_version)
    with transaction.atomic():
        updated = rows.update(
            **changes,
            version=F("version") + 1,
            updated_at=now,
            last_editor=user,
        )
        if updated:
            fresh = _fresh(document.pk, document.role)
            _record_revision(
                document=fresh,
                author=user,
                now=now,
                restored_from=restored_from,
                merged_from=merged_from,
            )
            return fresh
    try:
        current = _fresh(document.pk, document.role)
    except Document.DoesNotExist:
        raise NotFound(_("Document not found.")) from None
    if current.trashed_at is not None:
        raise ApplicationError(
            _("The document is in the trash."), code="trashed", status=409
        )
    raise VersionConflict(current)


def document_update(
    *,
    document: Document,
    user: "User",
    expected_version: int | None,
    title: str | None = None,
    body: str | None = None,
) -> Document:
    """Change the title and/or body if ``expected_version`` is still current.

    ``expected_version=None`` (``If-Match: *``) writes over whatever version
    the document is at when it is read.
    """
    changes: dict = {}
    if title is not None:
        changes["title"] = title
    if body is not None:
        check_body_size(body)
        changes["body"] = body
    return document_compare_and_swap(
        document=document,
        user=user,
        expected_version=expected_version,
        changes=changes,
    )


def revision_restore(
    *,
    document: Document,
    revision: DocumentRevision,
    user: "User",
    expected_version: int | None = None,
) -> Document:
    """Make ``revision``'s content current again, always as a new revision."""
    return document_compare_and_swap(
        document=document,
        user=user,
        expected_version=expected_version,
        changes={"title": revision.title, "body": revision.body},
        restored_from=revision.number,
    )


def document_trash(*, document: Document) -> None:
    """Move the document to the trash (hidden from lists and from collaborators)."""
    Document.objects.filter(pk=document.pk, trashed_at__isnull=True).update(
        trashed_at=timezone.now()
    )


def document_restore(*, document: Document) -> Document:
    """Bring the document back out of the trash."""
    if document.trashed_at is None:
        raise ApplicationError(
            _("The document is not in the trash."), code="not_trashed", status=409
        )
    Document.objects.filter(pk=document.pk).update(trashed_at=None)
    document.trashed_at = None
    return document


def documents_purge(*, document_ids: Iterable[UUID]) -> int:
    """Erase documents for good, after the purge hooks (stored files) ran.

    Returns the number of documents deleted.
    """
    ids = list(document_ids)
    if not ids:
        return 0
    with transaction.atomic():
        run_purge_hooks(ids)
        deleted, per_model = Document.objects.filter(pk__in=ids).delete()
    return per_model.get(Document._meta.label, 0)


def document_purge(*, document: Document) -> None:
    """Erase a trashed document for good (owner only, checked by the caller)."""
    if document.trashed_at is None:
        raise ApplicationError(
            _("Move the document to the trash first."),
            code="not_trashed",
            status=409,
        )
    documents_purge(document_ids=[document.pk])


def trash_purge_older_than(*, cutoff, batch_size: int = 500):
    """Yield the number of documents erased per batch of trash older than ``cutoff``."""
    while True:
        ids = list(
            Document.objects.filter(trashed_at__lt=cutoff)
            .order_by("trashed_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return
        yield documents_purge(document_ids=ids)


def _send_invitation(access_id: UUID) -> None:
    access = (
        DocumentAccess.objects.select_related("document", "invited_by")
        .filter(pk=access_id)
        .first()
    )
    if access is None:
        return
    inviter = access.invited_by
    context = {
        "who": (inviter.display_name or inviter.email) if inviter else "Someone",
        "role": access.role,
        "title": access.document.title or "Untitled",
        "email": access.email,
        "document_id": access.document_id,
    }
    subject = render_to_string("email/document_invitation_subject.txt", context)
    send_mail(
        subject=subject.strip(),
        message=render_to_string("email/document_invitation.txt", context).rstrip(),
        from_email=None,
        recipient_list=[access.email],
    )


def access_grant(
    *, document: Document, by: "User", email: str, role: str
) -> tuple[DocumentAccess, bool]:
    """Share ``document`` with ``email`` as ``role``; change the role if already shared.

    A verified account with that email gets access at once; otherwise the
    grant is a pending invitation claimed when such an account verifies the
    email. An invitation email is sent after commit. Returns the grant and
    whether it was created.
    """
    email = email.strip().lower()
    if document.owner.email and document.owner.email.lower() == email:
        raise ApplicationError(
            _("The owner already has full access."), code="is_owner", status=409
        )
    existing = (
        DocumentAccess.objects.filter(document=document)
        .filter(Q(email=email) | Q(user__email__iexact=email))
        .first()
    )
    if existing is not None:
        return access_update(access=existing, role=role), False
    user = (
        get_user_model()
        .objects.filter(email__iexact=email, is_email_verified=True)
        .first()
    )
    try:
        with transaction.atomic():
            access = DocumentAccess.objects.create(
                document=document, email=email, user=user, role=role, invited_by=by
            )
            transaction.on_commit(lambda: _send_invitation(access.pk), robust=True)
    except IntegrityError:
        raise ApplicationError(
            _("This document was just shared with that email; try again."),
            code="conflict",
            status=409,
        ) from None
    return access, True


def access_update(*, access: DocumentAccess, role: str | None = None) -> DocumentAccess:
    """Change the role of a grant (``None`` leaves it)."""
    if role is not None and access.role != role:
        access.role = role
        access.save(update_fields=["role", "updated_at"])
    return access


def access_revoke(*, access: DocumentAccess) -> None:
    """Remove a grant or a pending invitation."""
    access.delete()


def access_get(*, document: Document, access_id: UUID | str) -> DocumentAccess:
    """Return one grant of ``document`` or raise 404."""
    try:
        return DocumentAccess.objects.select_related("user", "invited_by").get(
            document=document, pk=access_id
        )
    except (DocumentAccess.DoesNotExist, ValueError, ValidationError):
        raise NotFound(_("Access not found.")) from None


@transaction.atomic
def invitations_claim(user: "User") -> int:
    """Turn pending invitations to ``user``'s verified email into access.

    Does nothing for an unverified email. Returns how many were claimed.
    """
    if not user.is_email_verified or not user.email:
        return 0
    claimed = 0
    pending = DocumentAccess.objects.select_for_update().filter(
        user__isnull=True, email=user.email.strip().lower()
    )
    for access in pending.select_related("document"):
        already = DocumentAccess.objects.filter(
            document=access.document, user=user
        ).exists()
        if access.document.owner_id == user.pk or already:
            access.delete()
            continue
        access.user = user
        access.save(update_fields=["user", "updated_at"])
        claimed += 1
    return claimed


def account_delete(user: "User") -> None:
    """Delete the user's documents (with their revisions and files) and grants."""
    owned = list(Document.objects.filter(owner=user).values_list("pk", flat=True))
    documents_purge(document_ids=owned)
    DocumentAccess.objects.filter(user=user).delete()


def account_export(user: "User") -> dict:
    """Return the user's documents, their revisions and what was shared with them."""
    owned = []
    for document in (
        Document.objects.filter(owner=user)
        .prefetch_related("revisions", "accesses")
        .order_by("created_at")
    ):
        owned.append(
            {
                "id": str(document.pk),
                "title": document.title,
                "body": document.body,
                "version": document.version,
                "created_at": iso_utc(document.created_at),
                "updated_at": iso_utc(document.updated_at),
                "trashed_at": iso_utc(document.trashed_at),
                "shared_with": [
                    {"email": access.email, "role": access.role}
                    for access in document.accesses.all()
                ],
                "revisions": [
                    {
                        "number": revision.number,
                        "title": revision.title,
                        "body": revision.body,
                        "created_at": iso_utc(revision.created_at),
                        "restored_from": revision.restored_from,
                        "merged_from": {
                            "base_version": revision.merge_base_version,
                            "current_version": revision.merge_current_version,
                        }
                        if revision.merge_base_version is not None
                        else None,
                    }
                    for revision in document.revisions.all()
                ],
            }
        )
    shared = [
        {
            "document_id": str(access.document_id),
            "title": access.document.title,
            "role": access.role,
        }
        for access in DocumentAccess.objects.filter(user=user)
        .select_related("document")
        .order_by("created_at")
    ]
    return {"owned": owned, "shared_with_me": shared}

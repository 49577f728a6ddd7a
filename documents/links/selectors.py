"""Reads of share links: an owner's list, and a document opened by its secret."""

import hashlib
import re
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.authentication import REALM
from accounts.models import User
from documents.models import ROLE_RANK, Document, DocumentAccess, Role, ShareLink
from documents.visibility import LinkAccess, link_role_for, role_for
from project.exceptions import ApplicationError, NotFound

# secrets.token_urlsafe(32): 32 random bytes, 43 base64url characters.
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def secret_hash(secret: str) -> str:
    """Return the stored form of a link's secret (SHA-256, hex).

    A plain hash is enough: the secret is 256 random bits, so there is no
    dictionary to try, and a lookup by hash needs a deterministic one.
    """
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _not_found() -> NotFound:
    # Word for word what /api/v1/documents/{id}/ answers for a document
    # that does not exist: a dead link must not be told from no link.
    return NotFound(_("Document not found."))


def live_links_q(*, now=None) -> Q:
    """Return the filter of links that are neither revoked nor expired."""
    now = now or timezone.now()
    return Q(revoked_at__isnull=True) & (
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def share_link_is_live(link: ShareLink, *, now=None) -> bool:
    """Return whether ``link`` opens its document: not revoked, not expired."""
    now = now or timezone.now()
    if link.revoked_at is not None:
        return False
    return link.expires_at is None or link.expires_at > now


def share_link_list(*, document: Document) -> QuerySet[ShareLink]:
    """Return the document's live links, oldest first."""
    return (
        ShareLink.objects.filter(live_links_q(), document=document)
        .select_related("created_by")
        .order_by("created_at", "pk")
    )


def share_link_get(*, document: Document, link_id: UUID | str) -> ShareLink:
    """Return one link of ``document`` (live or not) or raise 404."""
    try:
        return ShareLink.objects.get(document=document, pk=link_id)
    except (ShareLink.DoesNotExist, ValueError, ValidationError):
        raise NotFound(_("Link not found.")) from None


def share_link_list_for_user(*, user: User) -> QuerySet[ShareLink]:
    """Return every link ``user`` made, revoked and expired ones included."""
    return ShareLink.objects.filter(created_by=user).order_by("created_at", "pk")


def share_link_open(
    *, secret: str, user: User | None, minimum_role: Role = Role.VIEWER
) -> Document:
    """Return the document behind ``secret`` with ``.role`` and ``.share_link``.

    ``.role`` is what the caller may do through the link (see
    ``visibility.link_role_for``), ``.own_role`` what they may do without
    it. A malformed, unknown, revoked or expired secret, a trashed document
    and a deactivated owner all answer the same 404 as a missing document;
    a ``signed_in`` link opened anonymously, or a write without an account,
    is a 401; a write through a viewer link a 403 ``read_only``.
    """
    if not isinstance(secret, str) or not SECRET_PATTERN.fullmatch(secret):
        raise _not_found()
    link = (
        ShareLink.objects.select_related("document", "document__owner")
        .filter(secret_hash=secret_hash(secret))
        .first()
    )
    if link is None:
        raise _not_found()
    document = link.document
    signed_in = user is not None and user.is_authenticated
    own_role = None
    if signed_in:
        granted = (
            DocumentAccess.objects.filter(document=document, user=user)
            .values_list("role", flat=True)
            .first()
        )
        own_role = role_for(
            is_owner=document.owner_id == user.pk,
            granted_role=granted,
            is_trashed=document.trashed_at is not None,
            include_trashed=False,
        )
    role = link_role_for(
        link_role=link.role,
        audience=link.audience,
        is_live=share_link_is_live(link) and document.owner.is_active,
        is_trashed=document.trashed_at is not None,
        is_signed_in=signed_in,
        own_role=own_role,
    )
    if role == LinkAccess.UNSEEN:
        raise _not_found()
    needs_account = role == LinkAccess.SIGN_IN or (
        not signed_in and minimum_role != Role.VIEWER
    )
    if needs_account:
        raise ApplicationError(
            _("Sign in to open this document."),
            code="not_authenticated",
            status=401,
            headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'},
        )
    if ROLE_RANK[Role(role)] < ROLE_RANK[minimum_role]:
        raise ApplicationError(
            _("This link only lets you read the document."),
            code="read_only",
            status=403,
        )
    document.role = role
    document.own_role = own_role
    document.share_link = link
    return document

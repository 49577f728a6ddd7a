"""Writes to share links: create, revoke, and edits made through a link."""

import logging
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from documents import merge
from documents import services as document_services
from documents.links.selectors import (
    live_links_q,
    secret_hash,
    share_link_list_for_user,
)
from documents.models import Document, ShareLink
from project.exceptions import ApplicationError
from project.fields import iso_utc

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

# Live links per document: enough for any real use, and a bound on what a
# runaway client can make.
MAX_LIVE_LINKS = 50


def share_link_create(
    *,
    document: Document,
    by: "User",
    role: str,
    audience: str,
    expires_at: datetime | None = None,
) -> tuple[ShareLink, str]:
    """Create a link to ``document``; return it and its secret (never stored).

    The owner-only check is the caller's (``minimum_role=OWNER``). An expiry
    must lie in the future.
    """
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise ApplicationError(
            _("The expiry must be in the future."), code="invalid_expiry"
        )
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        # The document row is the lock that keeps two creations from both
        # passing the count below.
        Document.objects.select_for_update().filter(pk=document.pk).first()
        live = ShareLink.objects.filter(live_links_q(now=now), document=document)
        if live.count() >= MAX_LIVE_LINKS:
            raise ApplicationError(
                _("This document has too many links; revoke some first."),
                code="too_many_links",
                status=409,
            )
        link = ShareLink(
            document=document,
            created_by=by,
            secret_hash=secret_hash(secret),
            role=role,
            audience=audience,
            expires_at=expires_at,
        )
        link.full_clean(exclude=["document", "created_by"])
        link.save()
    logger.info("share link %s created on document %s", link.pk, document.pk)
    return link, secret


def share_link_revoke(*, link: ShareLink) -> ShareLink:
    """Revoke ``link`` at once (a revoked link stays revoked)."""
    share_links_revoke(link_ids=[link.pk])
    link.refresh_from_db(fields=["revoked_at", "updated_at"])
    return link


def share_links_revoke(*, link_ids: Iterable) -> int:
    """Revoke the given links that are not revoked yet; return how many were."""
    now = timezone.now()
    revoked = ShareLink.objects.filter(
        pk__in=list(link_ids), revoked_at__isnull=True
    ).update(revoked_at=now, updated_at=now)
    if revoked:
        logger.info("%s share links revoked", revoked)
    return revoked


def share_link_document_update(
    *,
    document: Document,
    user: "User",
    expected_version: int | None,
    title: str | None = None,
    body: str | None = None,
    merging: bool = False,
) -> tuple[Document, tuple[int, int] | None]:
    """Save an edit made through an editor link (checked by the caller).

    The same compare-and-swap update as any editor's (three-way merged when
    ``merging`` and ``expected_version`` is stale, as ``Prefer: merge``
    asks), so the revision history records the link's user as the author.
    Returns the document and, after a merge, the versions it merged.
    """
    link = document.share_link
    role = document.role
    merged_from = None
    if merging and expected_version is not None:
        updated, merged_from = merge.document_update_merging(
            document=document,
            user=user,
            expected_version=expected_version,
            title=title,
            body=body,
        )
    else:
        updated = document_services.document_update(
            document=document,
            user=user,
            expected_version=expected_version,
            title=title,
            body=body,
        )
    updated.share_link = link
    updated.role = role
    return updated, merged_from


def account_delete(user: "User") -> None:
    """Delete every link ``user`` made (their documents' links go with them)."""
    ShareLink.objects.filter(created_by=user).delete()


def account_export(user: "User") -> list[dict]:
    """Return the links ``user`` made, without their secrets."""
    return [
        {
            "id": str(link.pk),
            "document_id": str(link.document_id),
            "role": link.role,
            "audience": link.audience,
            "expires_at": iso_utc(link.expires_at),
            "revoked_at": iso_utc(link.revoked_at),
            "created_at": iso_utc(link.created_at),
        }
        for link in share_link_list_for_user(user=user)
    ]


def account_deletion_summary(user: "User") -> dict[str, int]:
    """Return how many links deleting ``user`` erases."""
    return {"share links": share_link_list_for_user(user=user).count()}

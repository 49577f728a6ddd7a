"""Reads of documents, scoped to what the caller may see."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    QuerySet,
)
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from documents import sql
from documents.models import (
    ROLE_RANK,
    Document,
    DocumentAccess,
    DocumentRevision,
    Role,
)
from documents.search import headlines, is_full_text, search_filter
from documents.visibility import SCOPE_BRANCHES, Scope, branch_queryset, role_for
from project.exceptions import ApplicationError, NotFound

# ordering parameter -> (sort key annotation, descending)
ORDERINGS: dict[str, tuple[str, bool]] = {
    "-updated_at": ("updated_at", True),
    "updated_at": ("updated_at", False),
    "title": ("title_key", False),
    "-title": ("title_key", True),
}
# List pages are read as dicts: building 50-100 model instances (with their
# owners) per page cost more than the queries themselves.
LIST_VALUES = (
    "id",
    "title",
    "version",
    "created_at",
    "updated_at",
    "trashed_at",
    "owner_id",
    "owner__email",
    "owner__display_name",
    "role",
)


def document_get_for_user(
    *,
    user: User,
    document_id: UUID | str,
    minimum_role: Role = Role.VIEWER,
    include_trashed: bool = False,
) -> Document:
    """Return the document with ``.role`` set, or raise.

    A document the user cannot see is a 404 (no existence leak); a viewer
    asking for more is a 403 ``read_only``, an editor asking for an owner's
    operation a 403 ``owner_only``.
    """
    try:
        document = sql.document_read(document_id=document_id, user_id=user.pk)
    except (ValueError, ValidationError):
        document = None
    if document is None:
        raise NotFound(_("Document not found."))
    role_name = role_for(
        is_owner=document.owner_id == user.pk,
        granted_role=document.granted_role,
        is_trashed=document.trashed_at is not None,
        include_trashed=include_trashed,
    )
    if role_name is None:
        raise NotFound(_("Document not found."))
    document.role = role_name
    role = Role(role_name)
    if ROLE_RANK[role] < ROLE_RANK[minimum_role]:
        if role == Role.VIEWER:
            raise ApplicationError(
                _("You have read-only access to this document."),
                code="read_only",
                status=403,
            )
        raise ApplicationError(
            _("Only the owner can do this."), code="owner_only", status=403
        )
    return document


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def _bad_cursor() -> ApplicationError:
    return ApplicationError(_("Invalid cursor."), code="invalid_cursor")


def encode_cursor(data: dict[str, Any]) -> str:
    """Return an opaque, URL-safe cursor for ``data``."""
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """Return the data in ``cursor`` or raise 400 ``invalid_cursor``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise _bad_cursor() from None
    if not isinstance(data, dict):
        raise _bad_cursor()
    return data


def _cursor_position(
    data: dict[str, Any], *, scope: str, ordering: str
) -> tuple[Any, UUID]:
    if data.get("s") != scope or data.get("o") != ordering:
        raise _bad_cursor()
    value, pk = data.get("v"), data.get("id")
    if not isinstance(value, str) or not isinstance(pk, str):
        raise _bad_cursor()
    try:
        uuid_value = UUID(pk)
        if ORDERINGS[ordering][0] == "updated_at":
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError(value)
            return parsed, uuid_value
    except ValueError:
        raise _bad_cursor() from None
    return value, uuid_value


def document_list(
    *,
    user: User,
    scope: str = Scope.ALL,
    ordering: str = "-updated_at",
    q: str = "",
    cursor: str | None = None,
    page_size: int = 50,
) -> Page:
    """Return one page of the documents the user may see, each with ``role``.

    Without ``q`` the page is a keyset page on ``ordering`` (stable while
    documents are added); with ``q`` it is ranked search results, paged by
    offset. The query count does not depend on ``page_size``.
    """
    data = decode_cursor(cursor) if cursor else None
    if q:
        return _search_page(user=user, scope=scope, q=q, data=data, page_size=page_size)
    key, desc = ORDERINGS[ordering]
    after = _cursor_position(data, scope=scope, ordering=ordering) if data else None
    branches = SCOPE_BRANCHES[scope]
    # Owned and shared documents are two index-friendly keyset branches of
    # one statement, instead of one OR that PostgreSQL can only answer by
    # scanning every document.
    rows = sql.list_page(
        user_id=user.pk,
        branches=branches,
        key=key,
        desc=desc,
        after=after,
        limit=page_size + 1,
    )
    next_cursor = None
    if len(rows) > page_size:
        rows = rows[:page_size]
        last = rows[-1]
        value = last[key]
        next_cursor = encode_cursor(
            {
                "s": scope,
                "o": ordering,
                "v": value.isoformat() if isinstance(value, datetime) else value,
                "id": str(last["id"]),
            }
        )
    return Page(items=rows, next_cursor=next_cursor)


def _search_page(
    *, user: User, scope: str, q: str, data: dict | None, page_size: int
) -> Page:
    offset = 0
    if data is not None:
        offset = data.get("off")
        if data.get("s") != scope or data.get("q") != q or not isinstance(offset, int):
            raise _bad_cursor()
        if isinstance(offset, bool) or offset < 0 or offset > 10_000:
            raise _bad_cursor()
    # One query per branch, as for lists: on PostgreSQL the owned one can
    # combine the owner index with the GIN index (BitmapAnd) instead of
    # fetching every match in the table before filtering on visibility.
    branches = [branch_queryset(b, user=user) for b in SCOPE_BRANCHES[scope]]
    limit = offset + page_size + 1
    querysets = [
        search_filter(branch, q)
        .order_by("-rank", "-updated_at", "-pk")
        .values(*LIST_VALUES, "rank")[:limit]
        for branch in branches
    ]
    if is_full_text():
        # PostgreSQL's default random_page_cost (4, for spinning disks) makes
        # the planner read every tsvector in a sequential scan instead of
        # using the GIN index: ~10x slower on SSD storage such as RDS.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL random_page_cost = 1.1")
            rows = [row for qs in querysets for row in qs]
    else:
        rows = [row for qs in querysets for row in qs]
    if len(querysets) > 1:
        rows.sort(
            key=lambda row: (row["rank"], row["updated_at"], row["id"]), reverse=True
        )
    rows = rows[offset:limit]
    next_cursor = None
    if len(rows) > page_size:
        rows = rows[:page_size]
        next_cursor = encode_cursor({"s": scope, "q": q, "off": offset + page_size})
    found = headlines((row["id"] for row in rows), q)
    for row in rows:
        row["headline"] = found.get(row["id"])
    return Page(items=rows, next_cursor=next_cursor)


def revision_list(
    *, document: Document, cursor: str | None = None, page_size: int = 50
) -> Page:
    """Return a page of the document's revisions, newest first, without bodies."""
    qs = (
        DocumentRevision.objects.filter(document=document)
        .select_related("author")
        .defer("body")
        .order_by("-number")
    )
    if cursor:
        data = decode_cursor(cursor)
        before = data.get("before")
        if not isinstance(before, int) or isinstance(before, bool):
            raise _bad_cursor()
        qs = qs.filter(number__lt=before)
    rows = list(qs[: page_size + 1])
    next_cursor = None
    if len(rows) > page_size:
        rows = rows[:page_size]
        next_cursor = encode_cursor({"before": rows[-1].number})
    return Page(items=rows, next_cursor=next_cursor)


def revision_get(*, document: Document, number: int) -> DocumentRevision:
    """Return revision ``number`` of ``document`` or raise 404."""
    try:
        return DocumentRevision.objects.select_related("author").get(
            document=document, number=number
        )
    except DocumentRevision.DoesNotExist:
        raise NotFound(_("Revision not found.")) from None


def access_list(*, document: Document) -> QuerySet[DocumentAccess]:
    """Return the document's grants and pending invitations, oldest first."""
    return (
        DocumentAccess.objects.filter(document=document)
        .select_related("user", "invited_by")
        .order_by("created_at", "pk")
    )


def account_deletion_summary(user: User) -> dict[str, int]:
    """Return what deleting ``user`` erases of documents and sharing."""
    owned = Document.objects.filter(owner=user)
    return {
        "documents (trash included)": owned.count(),
        "revisions": DocumentRevision.objects.filter(document__owner=user).count(),
        "grants on their documents": DocumentAccess.objects.filter(
            document__owner=user
        ).count(),
        "grants to them": DocumentAccess.objects.filter(user=user).count(),
    }

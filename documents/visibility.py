"""Who sees which document, written once.

A user sees a document through one of three branches: one they own and did
not trash (``OWNED``), one they own and trashed (``TRASHED``, only in the
trash and where a caller asks for trashed documents), or one granted to
them that its owner did not trash (``SHARED``). Each list scope is a tuple
of branches. The ORM (:func:`branch_queryset`, used by search), the
hand-written list statement (:mod:`documents.sql`) and the one-document
read (:func:`role_for`, used by ``selectors.document_get_for_user``) all
build on these, and ``documents/tests/test_visibility_contract.py`` runs the
same scenarios through each and compares.

A share link is a fourth way in, for one document and only through the
link's own endpoints (``/api/v1/links/{secret}/``, ``/s/{secret}``): it
never adds the document to a list or opens ``/api/v1/documents/{id}/``.
:func:`link_role_for` decides what a live link lets a caller do; the
caller's own role (:func:`role_for`) still counts when it is stronger.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import F, QuerySet, Value

from documents.models import ROLE_RANK, Document, Role


@dataclass(frozen=True)
class Branch:
    """Documents reached one way: owned or granted, trashed or not."""

    name: str
    via_grant: bool
    trashed: bool

    def admits(self, *, is_owner: bool, has_grant: bool, is_trashed: bool) -> bool:
        """Return whether a document in this state is in the branch for its user."""
        reached = has_grant if self.via_grant else is_owner
        return reached and is_trashed == self.trashed


OWNED = Branch("owned", via_grant=False, trashed=False)
TRASHED = Branch("trashed", via_grant=False, trashed=True)
SHARED = Branch("shared", via_grant=True, trashed=False)


class Scope:
    ALL = ""
    OWNED = "owned"
    SHARED = "shared"
    TRASH = "trash"
    CHOICES = (ALL, OWNED, SHARED, TRASH)


SCOPE_BRANCHES: dict[str, tuple[Branch, ...]] = {
    Scope.ALL: (OWNED, SHARED),
    Scope.OWNED: (OWNED,),
    Scope.SHARED: (SHARED,),
    Scope.TRASH: (TRASHED,),
}


def branch_queryset(branch: Branch, *, user: Any) -> QuerySet[Document]:
    """Return the branch's documents for ``user``, each annotated with ``role``."""
    documents = Document.objects.filter(trashed_at__isnull=not branch.trashed)
    if branch.via_grant:
        return documents.filter(accesses__user=user).annotate(role=F("accesses__role"))
    return documents.filter(owner=user).annotate(role=Value(Role.OWNER.value))


def role_for(
    *,
    is_owner: bool,
    granted_role: str | None,
    is_trashed: bool,
    include_trashed: bool,
) -> str | None:
    """Return the user's role on a document in this state, ``None`` if unseen.

    The branches of the ``ALL`` scope, plus ``TRASHED`` when
    ``include_trashed``; the owner's role wins over a grant of theirs.
    """
    branches = SCOPE_BRANCHES[Scope.ALL] + ((TRASHED,) if include_trashed else ())
    for branch in branches:
        if branch.admits(
            is_owner=is_owner,
            has_grant=granted_role is not None,
            is_trashed=is_trashed,
        ):
            return granted_role if branch.via_grant else Role.OWNER.value
    return None


class LinkAccess:
    """What :func:`link_role_for` can answer besides a role."""

    UNSEEN = "unseen"  # revoked, expired, trashed: as if there were no link
    SIGN_IN = "sign_in"  # a live link for signed-in users, opened anonymously


def link_role_for(
    *,
    link_role: str,
    audience: str,
    is_live: bool,
    is_trashed: bool,
    is_signed_in: bool,
    own_role: str | None = None,
) -> str:
    """Return the caller's role through a share link, or a :class:`LinkAccess`.

    A revoked or expired link, or one to a trashed document, is
    ``UNSEEN``. An ``anyone`` link opens for everyone, a ``signed_in`` one
    only with an account (``SIGN_IN`` otherwise). Anonymous callers only
    ever read, whatever the link's role; signed-in callers get the link's
    role, or ``own_role`` (from :func:`role_for`) when that is stronger.
    """
    if not is_live or is_trashed:
        return LinkAccess.UNSEEN
    if not is_signed_in:
        if audience != "anyone":
            return LinkAccess.SIGN_IN
        return Role.VIEWER.value
    role = Role(link_role)
    if own_role is not None and ROLE_RANK[Role(own_role)] > ROLE_RANK[role]:
        return own_role
    return role.value

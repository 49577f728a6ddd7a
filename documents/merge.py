"""Three-way merge of a stale save with the current document, line by line.

``base`` is the version the writer started from, ``ours`` what the writer
sent, ``theirs`` what the document holds now. The line merge is ``merge3``
with Breezy's patience diff to match lines (difflib's matcher is quadratic
on the many equal blank lines of a long Markdown text: minutes for 1 MB,
where patience diff takes a fraction of a second). Regions that only one
side changed take that side, regions both sides changed identically are
taken once, and regions both sides changed differently are conflicts.
Nothing here touches the database; ``documents.services`` decides what to
do with the result.
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

import merge3
import patiencediff

from documents import services
from documents.models import Document, DocumentVersion
from documents.services import VersionConflict

if TYPE_CHECKING:
    from accounts.models import User

# Merges of one save against writers that keep getting in first.
MERGE_ATTEMPTS = 3


@dataclass(frozen=True)
class Hunk:
    """One region both sides changed differently: the three texts of it.

    ``base_line`` is the 1-based line of the base where the region starts
    (for an insertion, the line it was inserted before).
    """

    base_line: int
    base: str
    theirs: str
    ours: str


@dataclass(frozen=True)
class MergeOutcome:
    """The merged title and body, or what kept them from merging."""

    title: str | None
    body: str | None
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def is_clean(self) -> bool:
        """Return whether both the title and the body merged."""
        return self.title is not None and self.body is not None


def merge_title(*, base: str, ours: str, theirs: str) -> str | None:
    """Return the merged title, or ``None`` when both sides changed it differently."""
    if ours == base:
        return theirs
    if theirs in (base, ours):
        return ours
    return None


def merge_body(*, base: str, ours: str, theirs: str) -> tuple[str | None, list[Hunk]]:
    """Return the merged body (``None`` on conflict) and the conflicting hunks."""
    base_lines = base.splitlines(keepends=True)
    our_lines = ours.splitlines(keepends=True)
    their_lines = theirs.splitlines(keepends=True)
    merger = merge3.Merge3(
        base_lines,
        our_lines,
        their_lines,
        sequence_matcher=patiencediff.PatienceSequenceMatcher,
    )
    merged: list[str] = []
    hunks: list[Hunk] = []
    for region in merger.merge_regions():
        kind = region[0]
        if kind == "unchanged":
            merged.extend(base_lines[region[1] : region[2]])
        elif kind in ("a", "same"):
            merged.extend(our_lines[region[1] : region[2]])
        elif kind == "b":
            merged.extend(their_lines[region[1] : region[2]])
        else:
            _, base_start, base_end, our_start, our_end, their_start, their_end = region
            hunks.append(
                Hunk(
                    base_line=base_start + 1,
                    base="".join(base_lines[base_start:base_end]),
                    theirs="".join(their_lines[their_start:their_end]),
                    ours="".join(our_lines[our_start:our_end]),
                )
            )
    if hunks:
        return None, hunks
    return "".join(merged), []


def merge_document(
    *,
    base: tuple[str, str],
    ours: tuple[str, str],
    theirs: tuple[str, str],
) -> MergeOutcome:
    """Merge ``(title, body)`` pairs: the title whole, the body line by line."""
    title = merge_title(base=base[0], ours=ours[0], theirs=theirs[0])
    body, hunks = merge_body(base=base[1], ours=ours[1], theirs=theirs[1])
    return MergeOutcome(title=title, body=body, hunks=hunks)


class MergeConflict(VersionConflict):
    """A stale save could not be merged: the two sides changed the same text."""

    def __init__(
        self,
        document: Document,
        *,
        base: DocumentVersion,
        ours_title: str,
        outcome: MergeOutcome,
    ) -> None:
        super().__init__(document)
        self.detail = _(
            "The document was changed by someone else, in the same places as this save."
        )
        self.base_version = base.version
        self.title_conflict = (
            None
            if outcome.title is not None
            else {"base": base.title, "theirs": document.title, "ours": ours_title}
        )
        self.hunks = outcome.hunks


def document_update_merging(
    *,
    document: Document,
    user: "User",
    expected_version: int,
    title: str | None = None,
    body: str | None = None,
) -> tuple[Document, tuple[int, int] | None]:
    """Save like ``document_update``, merging a stale save three-way if it can.

    Returns the saved document and, when a merge happened, the pair (the
    version the save started from, the version it was merged with). The
    base is the kept ``DocumentVersion`` that ``expected_version`` names;
    without one (never saved, or pruned) the answer is the plain
    :class:`VersionConflict`. The merged text is written with the same
    compare-and-swap on the version the merge read: a writer that got in
    between makes the merge run again on the newer text, at most
    ``MERGE_ATTEMPTS`` times, then :class:`VersionConflict`.
    """
    try:
        saved = services.document_update(
            document=document,
            user=user,
            expected_version=expected_version,
            title=title,
            body=body,
        )
    except VersionConflict as conflict:
        current = conflict.document
    else:
        return saved, None
    base = DocumentVersion.objects.filter(
        document_id=document.pk, version=expected_version
    ).first()
    if base is None or expected_version > current.version:
        raise VersionConflict(current)
    ours_title = base.title if title is None else title
    ours_body = base.body if body is None else body
    for _attempt in range(MERGE_ATTEMPTS):
        outcome = merge_document(
            base=(base.title, base.body),
            ours=(ours_title, ours_body),
            theirs=(current.title, current.body),
        )
        if not outcome.is_clean:
            raise MergeConflict(
                current, base=base, ours_title=ours_title, outcome=outcome
            )
        merged_body = outcome.body or ""
        services.check_body_size(merged_body)
        merged_from = (expected_version, current.version)
        try:
            saved = services.document_compare_and_swap(
                document=current,
                user=user,
                expected_version=current.version,
                changes={"title": outcome.title, "body": merged_body},
                merged_from=merged_from,
            )
        except VersionConflict as conflict:
            current = conflict.document
            continue
        return saved, merged_from
    raise VersionConflict(current)

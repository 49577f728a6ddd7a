"""Output shapes shared by several document views, and strict input fields.

List and detail bodies are built by plain functions (a page of 50 through
DRF serializers costs more than the query); the serializers below describe
the same shapes for the OpenAPI schema.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import serializers

from documents import openapi
from documents.models import Document, DocumentAccess, DocumentRevision
from project.fields import iso_utc

if TYPE_CHECKING:
    from documents.merge import MergeConflict


class StrictSerializer(serializers.Serializer):
    """A serializer that answers 400 for fields it does not know."""

    def validate(self, attrs: dict) -> dict:
        if isinstance(self.initial_data, dict):
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: [_("Unknown field.")] for name in unknown}
                )
        return attrs


_ts = iso_utc


def user_data(user) -> dict | None:
    """Return the public face of a user (collaborators see each other)."""
    if user is None:
        return None
    return {"id": str(user.pk), "email": user.email, "display_name": user.display_name}


def document_items_data(rows: Iterable[dict]) -> list[dict]:
    """Return list rows (from ``selectors.document_list``) as they appear in lists.

    Ids and date-times stay Python values: the renderer writes them
    (``project.renderers``, in C; DRF's encoder writes the same text), where
    formatting 150 date-times and 100 UUIDs in Python cost a list page a
    quarter of its instructions. Rows come from the database, so every date-time is UTC.
    A page's documents mostly share a few owners: each owner's face is built
    once per page and copied into its items.
    """
    owners: dict[Any, dict] = {}
    items = []
    for row in rows:
        owner_id = row["owner_id"]
        owner = owners.get(owner_id)
        if owner is None:
            owner = owners[owner_id] = {
                "id": owner_id,
                "email": row["owner__email"],
                "display_name": row["owner__display_name"],
            }
        items.append(
            {
                "id": row["id"],
                "title": row["title"],
                "version": row["version"],
                "role": row["role"],
                "owner": owner.copy(),
                "created_at": row["created_at"],
                "updated_at": row["updated_at"],
                "trashed_at": row["trashed_at"],
            }
        )
    return items


def document_text_data(document: Document) -> dict:
    """Return what every reader of a document gets: its text, version and role.

    The start of :func:`document_data` and of a document opened through a
    share link (``documents.links.serializers``).
    """
    return {
        "id": str(document.pk),
        "title": document.title,
        "body": document.body,
        "version": document.version,
        "role": document.role,
    }


def document_data(document: Document) -> dict:
    """Return a whole document, as read, written and sent with a 412."""
    return {
        **document_text_data(document),
        "owner": user_data(document.owner),
        "last_editor": user_data(document.last_editor),
        "created_at": _ts(document.created_at),
        "updated_at": _ts(document.updated_at),
        "trashed_at": _ts(document.trashed_at),
    }


def revision_data(revision: DocumentRevision, *, with_body: bool) -> dict:
    """Return a revision; the body only when one revision is read."""
    data = {
        "number": revision.number,
        "title": revision.title,
        "size_bytes": revision.size_bytes,
        "author": user_data(revision.author),
        "restored_from": revision.restored_from,
        "merged_from": (
            {
                "base_version": revision.merge_base_version,
                "current_version": revision.merge_current_version,
            }
            if revision.merge_base_version is not None
            else None
        ),
        "created_at": _ts(revision.created_at),
        "updated_at": _ts(revision.updated_at),
    }
    if with_body:
        data["body"] = revision.body
    return data


def conflicts_data(conflict: "MergeConflict") -> dict:
    """Return what kept a stale save from merging, as sent with its 412."""
    return {
        "base_version": conflict.base_version,
        "title": conflict.title_conflict,
        "body": [
            {
                "base_line": hunk.base_line,
                "base": hunk.base,
                "theirs": hunk.theirs,
                "ours": hunk.ours,
            }
            for hunk in conflict.hunks
        ],
    }


def access_data(access: DocumentAccess) -> dict:
    """Return a grant or a pending invitation."""
    return {
        "id": str(access.pk),
        "email": access.email,
        "role": access.role,
        "status": "active" if access.user_id else "pending",
        "user": user_data(access.user),
        "invited_by": user_data(access.invited_by),
        "created_at": _ts(access.created_at),
    }


class UserOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    display_name = serializers.CharField()


class DocumentItemOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    version = serializers.IntegerField()
    role = serializers.ChoiceField(choices=["owner", "editor", "viewer"])
    owner = UserOutputSerializer()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    trashed_at = serializers.DateTimeField(allow_null=True)
    snippet = serializers.CharField(
        required=False, help_text="Only with q: HTML-escaped, matches in <mark>."
    )
    rank = serializers.FloatField(required=False)


@extend_schema_serializer(examples=openapi.DOCUMENT_PAGE_EXAMPLES)
class DocumentPageOutputSerializer(serializers.Serializer):
    results = DocumentItemOutputSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)
    next = serializers.URLField(allow_null=True)


@extend_schema_serializer(examples=openapi.DOCUMENT_EXAMPLES)
class DocumentOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    body = serializers.CharField()
    version = serializers.IntegerField()
    role = serializers.ChoiceField(choices=["owner", "editor", "viewer"])
    owner = UserOutputSerializer()
    last_editor = UserOutputSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    trashed_at = serializers.DateTimeField(allow_null=True)


PREFER_HEADER = OpenApiParameter(
    "Prefer",
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "`merge`: when If-Match names an older version, merge this save "
        "three-way with what was saved since instead of answering 412 "
        "(see the `Merged-From` header). Without it a stale If-Match is 412."
    ),
)
MERGED_FROM_HEADER = OpenApiParameter(
    "Merged-From",
    location=OpenApiParameter.HEADER,
    response=[200],
    description=(
        "Only after a merge: the ETags of the version the save started from "
        'and of the version it was merged with, e.g. `"3", "5"`.'
    ),
)
PREFERENCE_APPLIED_HEADER = OpenApiParameter(
    "Preference-Applied",
    location=OpenApiParameter.HEADER,
    response=[200],
    description="`merge` when the save was merged (RFC 7240).",
)


class TitleConflictOutputSerializer(serializers.Serializer):
    base = serializers.CharField()
    theirs = serializers.CharField()
    ours = serializers.CharField()


class HunkOutputSerializer(serializers.Serializer):
    base_line = serializers.IntegerField(
        help_text="1-based line of the base where the region starts."
    )
    base = serializers.CharField()
    theirs = serializers.CharField()
    ours = serializers.CharField()


class ConflictsOutputSerializer(serializers.Serializer):
    base_version = serializers.IntegerField(
        help_text="The version named by If-Match, the base of the merge."
    )
    title = TitleConflictOutputSerializer(
        allow_null=True, help_text="Set when both sides changed the title."
    )
    body = HunkOutputSerializer(
        many=True, help_text="The regions of the body both sides changed."
    )


class DocumentConflictOutputSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    current = DocumentOutputSerializer()
    conflicts = ConflictsOutputSerializer(
        required=False,
        help_text="Only with Prefer: merge, when the changes overlap.",
    )


class MergeRecordOutputSerializer(serializers.Serializer):
    base_version = serializers.IntegerField()
    current_version = serializers.IntegerField()


@extend_schema_serializer(examples=openapi.REVISION_EXAMPLES)
class RevisionOutputSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    title = serializers.CharField()
    body = serializers.CharField(required=False)
    size_bytes = serializers.IntegerField()
    author = UserOutputSerializer(allow_null=True)
    restored_from = serializers.IntegerField(allow_null=True)
    merged_from = MergeRecordOutputSerializer(
        allow_null=True,
        help_text="Set on a revision made by a three-way merge of a stale save.",
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class RevisionPageOutputSerializer(serializers.Serializer):
    results = RevisionOutputSerializer(many=True)
    next_cursor = serializers.CharField(
        allow_null=True,
        help_text="Send as `cursor` for the next page; null at the end.",
    )


@extend_schema_serializer(examples=openapi.ACCESS_EXAMPLES)
class AccessOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=["editor", "viewer"])
    status = serializers.ChoiceField(choices=["active", "pending"])
    user = UserOutputSerializer(allow_null=True)
    invited_by = UserOutputSerializer(allow_null=True)
    created_at = serializers.DateTimeField()


@extend_schema_serializer(examples=openapi.ACCESS_LIST_EXAMPLES)
class AccessListOutputSerializer(serializers.Serializer):
    owner = UserOutputSerializer()
    results = AccessOutputSerializer(many=True)

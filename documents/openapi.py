"""What each documents, sharing and revisions operation is for, and its errors.

Applied to the view methods in ``documents/views.py`` (see ``project.schema``
for how an :class:`~project.schema.ApiDoc` becomes the OpenAPI operation).
"""

from drf_spectacular.utils import OpenApiExample

from project.schema import ApiDoc

_CURRENT = {
    "current": {
        "allOf": [{"$ref": "#/components/schemas/DocumentOutput"}],
        "description": "The document as it is now; its `version` is the ETag "
        "to send in `If-Match` after merging.",
    }
}
_NOT_FOUND = ("not_found",)

DOCUMENT_LIST = ApiDoc(
    tag="documents",
    summary="List or search documents",
    description=(
        "The documents the caller owns or was granted, most recently edited "
        "first unless `ordering` says otherwise. `scope` narrows the list to "
        "owned, shared or trashed documents. `q` searches titles and bodies "
        "(full-text, every word must match) and adds a highlighted `snippet` "
        "and a `rank` to each result. Pages are cursor-based: follow `next` "
        "(or send `next_cursor` as `cursor`) until it is `null`."
    ),
    errors={400: ("invalid", "invalid_cursor")},
)
DOCUMENT_CREATE = ApiDoc(
    tag="documents",
    summary="Create a document",
    description=(
        "Create a document owned by the caller, with its first revision. "
        "The answer carries the document's `ETag` (its version) and its "
        "`Location`. Send an `Idempotency-Key` to retry safely."
    ),
    errors={413: ("too_large",)},
)
DOCUMENT_READ = ApiDoc(
    tag="documents",
    summary="Read a document",
    description=(
        "The whole document with the caller's `role`. The `ETag` header is "
        "its version: send it back in `If-Match` to change the document. A "
        "trashed document can still be read by its owner."
    ),
    errors={404: _NOT_FOUND},
)
_WRITE_DESCRIPTION = (
    "Requires `If-Match` with the ETag of the version being changed (or `*` to "
    "write over any version). A stale ETag is a 412 whose body carries the "
    "`current` document, so nothing is ever overwritten silently. Every save "
    "leaves a revision. Viewers get 403 `read_only`."
)
_WRITE_ERRORS = {
    400: ("invalid_if_match",),
    403: ("read_only",),
    404: _NOT_FOUND,
    409: ("trashed",),
    412: ("precondition_failed",),
    413: ("too_large",),
    428: ("precondition_required",),
}
DOCUMENT_PATCH = ApiDoc(
    tag="documents",
    summary="Change a document's title or body",
    description=(
        "Change the fields sent and keep the others. "
        + _WRITE_DESCRIPTION
        + " With `Prefer: merge`, a stale ETag is merged three-way, line by "
        "line, with what was saved since: changes that do not overlap are "
        "saved as a new version (200 with `Merged-From` naming the version "
        "the save started from and the one it was merged with), overlapping "
        "ones are a 412 that also lists the `conflicts`. A version too old to "
        "be kept as a base is the plain 412."
    ),
    errors=_WRITE_ERRORS,
    error_properties={412: _CURRENT},
)
DOCUMENT_PUT = ApiDoc(
    tag="documents",
    summary="Replace a document's title and body",
    description="Replace both fields. " + _WRITE_DESCRIPTION,
    errors=_WRITE_ERRORS,
    error_properties={412: _CURRENT},
)
DOCUMENT_DELETE = ApiDoc(
    tag="documents",
    summary="Move a document to the trash, or delete it for good",
    description=(
        "Owners only. Without `permanent` the document goes to the trash "
        "(restore it with `POST .../restore/`); with `permanent=true` a "
        "document already in the trash is deleted with its revisions and "
        "attachments, which cannot be undone."
    ),
    errors={
        400: ("invalid",),
        403: ("owner_only", "read_only"),
        404: _NOT_FOUND,
        409: ("not_trashed",),
    },
)
DOCUMENT_RESTORE = ApiDoc(
    tag="documents",
    summary="Restore a document from the trash",
    description="Owners only: take the document out of the trash, unchanged.",
    errors={
        403: ("owner_only", "read_only"),
        404: _NOT_FOUND,
        409: ("not_trashed",),
    },
)
REVISION_LIST = ApiDoc(
    tag="revisions",
    summary="List a document's revisions",
    description=(
        "Newest first, without bodies. Saves by one author within a few "
        "minutes fold into one revision. Cursor-based pages: send "
        "`next_cursor` as `cursor` until it is `null`."
    ),
    errors={400: ("invalid", "invalid_cursor"), 404: _NOT_FOUND},
)
REVISION_READ = ApiDoc(
    tag="revisions",
    summary="Read one revision",
    description="The revision's title and body as they were saved.",
    errors={404: _NOT_FOUND},
)
REVISION_RESTORE = ApiDoc(
    tag="revisions",
    summary="Restore a revision",
    description=(
        "Make the revision's title and body current again, as a new revision "
        "(history is never rewritten). `If-Match` is optional here; when sent "
        "and stale, the answer is 412 with the `current` document."
    ),
    errors={
        400: ("invalid_if_match",),
        403: ("read_only",),
        404: _NOT_FOUND,
        409: ("trashed",),
        412: ("precondition_failed",),
    },
    error_properties={412: _CURRENT},
)
ACCESS_LIST = ApiDoc(
    tag="sharing",
    summary="List who has access to a document",
    description=(
        "The owner, then each grant: active for a user who has signed in, "
        "pending for an invitation to an email that has no account yet."
    ),
    errors={404: _NOT_FOUND},
)
ACCESS_GRANT = ApiDoc(
    tag="sharing",
    summary="Share a document by email",
    description=(
        "Owners only. Grant `viewer` or `editor` to an email address; the "
        "person gets an email, and the grant becomes active when they sign "
        "in. Sharing again with the same email changes nothing and answers "
        "200 with the existing grant."
    ),
    errors={
        403: ("owner_only", "read_only"),
        404: _NOT_FOUND,
        409: ("conflict", "is_owner"),
    },
)
ACCESS_UPDATE = ApiDoc(
    tag="sharing",
    summary="Change a grant's role",
    description="Owners only: make a viewer an editor, or the other way round.",
    errors={403: ("owner_only", "read_only"), 404: _NOT_FOUND},
)
ACCESS_REVOKE = ApiDoc(
    tag="sharing",
    summary="Revoke a grant, or leave a document",
    description=(
        "The owner may revoke any grant; a collaborator may revoke only their "
        "own, to leave the document."
    ),
    errors={403: ("owner_only", "read_only"), 404: _NOT_FOUND},
)


# --- examples (what a real client sees) -----------------------------------------

_ADA = {
    "id": "5b8e2c1a-9f3d-4e8b-a6c2-7d1e0f4b9a31",
    "email": "ada@example.com",
    "display_name": "Ada Lovelace",
}
_GRACE = {
    "id": "c3d9a7e2-1b4f-4c6a-8e5d-2f7b9a0c1d42",
    "email": "grace@example.com",
    "display_name": "Grace Hopper",
}
_DOCUMENT = {
    "id": "0f8c3f8e-4f4e-4b7a-9d55-2b8f3a1c6d21",
    "title": "Launch plan",
    "body": "# Launch plan\n\nShip the API docs on Friday.",
    "version": 3,
    "role": "owner",
    "owner": _ADA,
    "last_editor": _GRACE,
    "created_at": "2026-11-28T09:14:03.512000Z",
    "updated_at": "2026-12-03T16:41:27.090000Z",
    "trashed_at": None,
}
DOCUMENT_EXAMPLES = [
    OpenApiExample("A document", value=_DOCUMENT, response_only=True),
]
DOCUMENT_PAGE_EXAMPLES = [
    OpenApiExample(
        "A page of search results",
        value={
            "results": [
                {
                    **{
                        k: v
                        for k, v in _DOCUMENT.items()
                        if k not in {"body", "last_editor"}
                    },
                    "snippet": "Ship the API <mark>docs</mark> on Friday.",
                    "rank": 0.075991,
                }
            ],
            "next_cursor": None,
            "next": None,
        },
        response_only=True,
    )
]
DOCUMENT_CREATE_EXAMPLES = [
    OpenApiExample(
        "A new document",
        value={"title": "Launch plan", "body": "# Launch plan\n\nShip the API docs."},
        request_only=True,
    )
]
DOCUMENT_PATCH_EXAMPLES = [
    OpenApiExample(
        "Change the body only",
        value={"body": "# Launch plan\n\nShip the API docs on Friday."},
        request_only=True,
    )
]
REVISION_EXAMPLES = [
    OpenApiExample(
        "A revision",
        value={
            "number": 2,
            "title": "Launch plan",
            "body": "# Launch plan\n\nShip the API docs.",
            "size_bytes": 34,
            "author": _ADA,
            "restored_from": None,
            "created_at": "2026-12-01T10:02:45.300000Z",
            "updated_at": "2026-12-01T10:04:12.800000Z",
        },
        response_only=True,
    )
]
_GRANT = {
    "id": "8a1f5e3c-6d2b-4f9a-b7c4-3e0d9c8b2a15",
    "email": "grace@example.com",
    "role": "editor",
    "status": "active",
    "user": _GRACE,
    "invited_by": _ADA,
    "created_at": "2026-11-30T08:00:12.004000Z",
}
ACCESS_EXAMPLES = [OpenApiExample("A grant", value=_GRANT, response_only=True)]
ACCESS_LIST_EXAMPLES = [
    OpenApiExample(
        "Owner and grants",
        value={
            "owner": _ADA,
            "results": [
                _GRANT,
                {
                    **_GRANT,
                    "id": "e4b7c2d1-0a9f-4e3b-8c6d-5f1a2b3c4d56",
                    "email": "linus@example.org",
                    "role": "viewer",
                    "status": "pending",
                    "user": None,
                },
            ],
        },
        response_only=True,
    )
]
ACCESS_GRANT_EXAMPLES = [
    OpenApiExample(
        "Invite an editor",
        value={"email": "grace@example.com", "role": "editor"},
        request_only=True,
    )
]

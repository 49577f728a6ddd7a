"""What each attachments operation is for, and its errors.

Applied to the view methods in ``attachments/views.py`` (see
``project.schema`` for how an :class:`~project.schema.ApiDoc` becomes the
OpenAPI operation).
"""

from project.schema import ApiDoc

_NOT_FOUND = ("not_found",)
_UNAVAILABLE = ("storage_unavailable",)
_LIMITS = {
    "max_bytes": {"type": "integer", "description": "The size limit, in bytes."},
    "quota_bytes": {
        "type": "integer",
        "description": "The caller's storage quota, in bytes (quota_exceeded).",
    },
}
_TYPES = {
    "allowed_types": {
        "type": "array",
        "items": {"type": "string"},
        "description": "The media types accepted (unsupported_type).",
    }
}

ATTACHMENT_LIST = ApiDoc(
    tag="attachments",
    summary="List a document's attachments",
    description=(
        "Ready and pending attachments of a document the caller can read, "
        "newest first (rejected uploads are left out). Cursor-based pages: "
        "follow `next` until it is `null`."
    ),
    errors={400: ("invalid",), 404: _NOT_FOUND},
)
ATTACHMENT_UPLOAD = ApiDoc(
    tag="attachments",
    summary="Upload a file, or start a direct upload",
    description=(
        "Editors and owners. Two ways, depending on the server's storage:\n\n"
        "- **multipart/form-data** (local storage): send the file in the field "
        "`file` (and optionally `content_type`); the server checks its size, "
        "its type and its first bytes and answers the ready attachment.\n"
        "- **application/json** (S3): declare `filename`, `content_type` and "
        "`size`; the answer is a pending attachment with an `upload` form to "
        "POST the file straight to storage, then call its `complete_url`.\n\n"
        "A server answers 415 `multipart_required` or `presigned_upload_required` "
        "when sent the other way. Files count against the caller's storage "
        "quota (413 `quota_exceeded`)."
    ),
    errors={
        400: ("file_missing",),
        403: ("read_only",),
        404: _NOT_FOUND,
        413: ("too_large", "quota_exceeded"),
        415: ("unsupported_type", "multipart_required", "presigned_upload_required"),
        503: _UNAVAILABLE,
    },
    error_properties={413: _LIMITS, 415: _TYPES},
)
ATTACHMENT_COMPLETE = ApiDoc(
    tag="attachments",
    summary="Finish a direct upload",
    description=(
        "After the file was POSTed to storage with the `upload` form: the "
        "server reads what was actually stored, checks its size and type and "
        "marks the attachment ready. A file that does not match is deleted "
        "and the attachment rejected, with the reason. Calling it again on a "
        "ready attachment answers it unchanged."
    ),
    errors={
        400: ("size_mismatch",),
        403: ("read_only",),
        404: _NOT_FOUND,
        409: ("not_pending", "upload_missing", "upload_rejected"),
        413: ("too_large",),
        415: ("unsupported_type",),
        503: _UNAVAILABLE,
    },
    error_properties={
        409: {
            "reason": {
                "type": "string",
                "description": "Why the upload was rejected (upload_rejected).",
            }
        }
    },
)
ATTACHMENT_READ = ApiDoc(
    tag="attachments",
    summary="Read an attachment's metadata",
    description=(
        "Name, type, size, status and checksum; `download_url` once it is "
        "ready. Anyone who can read the document can read its attachments."
    ),
    errors={404: _NOT_FOUND},
)
ATTACHMENT_DELETE = ApiDoc(
    tag="attachments",
    summary="Delete an attachment",
    description=(
        "Editors and owners: the attachment and its stored file are deleted "
        "(the file shortly after, and retried until storage confirms)."
    ),
    errors={403: ("read_only",), 404: _NOT_FOUND},
)
ATTACHMENT_DOWNLOAD = ApiDoc(
    tag="attachments",
    summary="Download an attachment",
    description=(
        "A redirect (302) to a short-lived signed URL when files are in S3; "
        "the bytes themselves on local storage, where a single `Range` is "
        "honoured (206, or 416 outside the file). Files are always served "
        "as downloads (`Content-Disposition: attachment`), never run as "
        "pages."
    ),
    errors={404: _NOT_FOUND, 409: ("not_ready",), 503: _UNAVAILABLE},
)

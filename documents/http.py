"""HTTP plumbing shared by the document and share-link views.

Preconditions (``ETag`` / ``If-Match``), the ``Prefer: merge`` header, the
412 answer for a lost compare-and-swap, the request body limit and the
title/body input fields.
"""

import re
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from documents import merge, services
from documents.models import Document
from documents.serializers import conflicts_data, document_data
from project.exceptions import ApplicationError
from project.fields import StrictCharField

# The If-Match this API takes: one of its own ETags, or ``*`` (declared as the
# header's schema pattern; anything else is 400 invalid_if_match).
IF_MATCH_PATTERN = r'^(\*|(W/)?"[0-9]{1,10}")$'
_ETAG = re.compile(r'^(?:W/)?"(\d{1,10})"$')
TITLE_MAX = Document._meta.get_field("title").max_length
IF_MATCH = OpenApiParameter(
    "If-Match",
    location=OpenApiParameter.HEADER,
    required=True,
    description='The ETag of the version being changed, e.g. "3".',
    pattern=IF_MATCH_PATTERN,
)


def etag_for(document: Document) -> str:
    """Return the strong ETag of the document's current version."""
    return f'"{document.version}"'


def parse_if_match(request: Request) -> int | None:
    """Return the version named by ``If-Match`` (``None`` for ``*``) or raise."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        raise ApplicationError(
            _("This request needs an If-Match header with the document's ETag."),
            code="precondition_required",
            status=428,
        )
    if header == "*":
        return None
    match = _ETAG.match(header)
    if match is None:
        raise ApplicationError(
            _("If-Match must be one ETag, as sent by GET."), code="invalid_if_match"
        )
    return int(match.group(1))


def prefers_merge(request: Request) -> bool:
    """Return whether the request's ``Prefer`` header (RFC 7240) asks for ``merge``.

    Preferences are comma-separated, each a case-insensitive token with an
    optional ``=value`` and ``;parameters``; unknown ones are ignored.
    """
    for header in request.headers.get("Prefer", "").split(","):
        preference = header.split(";", 1)[0].split("=", 1)[0].strip().lower()
        if preference == "merge":
            return True
    return False


def conflict_error(
    conflict: "services.VersionConflict", *, current: dict[str, Any] | None = None
) -> ApplicationError:
    """Return the 412/428 answer for a lost compare-and-swap, with the current document.

    ``current`` is the document as the caller sees it (default: the API's
    ``document_data``; a share link answers its own shape). A save that asked
    for a merge and overlapped also carries the ``conflicts``: the title's
    three values when both sides changed it, and each body region both sides
    changed (base, theirs, ours).
    """
    if current is None:
        current = document_data(conflict.document)
    extra: dict[str, Any] = {"current": current}
    if isinstance(conflict, merge.MergeConflict):
        extra["conflicts"] = conflicts_data(conflict)
    return ApplicationError(
        conflict.detail,
        code=conflict.code,
        status=conflict.status,
        extra=extra,
        headers={"ETag": etag_for(conflict.document)},
    )


def document_response(
    document: Document, *, status_code: int = 200, location: str | None = None
) -> Response:
    """Return the document as JSON with its ETag (and ``Location`` when created)."""
    headers = {"ETag": etag_for(document)}
    if location:
        headers["Location"] = location
    return Response(document_data(document), status=status_code, headers=headers)


class BodyLimitMixin:
    """Refuse request bodies larger than any valid document before parsing them."""

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        # JSON escaping can take up to 6 bytes per character of body.
        if length > settings.DOCUMENTS_MAX_BODY_BYTES * 6 + 65_536:
            raise ApplicationError(
                _("The document is too large."), code="too_large", status=413
            )


def title_field(**kwargs) -> StrictCharField:
    """Return a document title input field (one line, at most the model's length)."""
    return StrictCharField(
        max_length=TITLE_MAX, allow_blank=True, single_line=True, **kwargs
    )


def body_field(**kwargs) -> StrictCharField:
    """Return a document body input field (whitespace kept as sent)."""
    return StrictCharField(allow_blank=True, trim_whitespace=False, **kwargs)

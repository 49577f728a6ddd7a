"""A document's ready image attachments as bytes, for exports that embed them.

The PDF and Word exports carry the images a document shows instead of links
that need a signed-in browser. Only types attachments serve as images
(never SVG), each at most ``max_each`` bytes and all together at most
``max_total``; an image past the limits, missing, or behind unreachable
storage is simply not embedded (the export keeps its link).
"""

import logging
from dataclasses import dataclass
from uuid import UUID

from attachments.adapters.storage import StorageUnavailable, attachment_storage
from attachments.selectors import attachment_list_ready

logger = logging.getLogger(__name__)

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True)
class InlineImage:
    """One image's bytes and type."""

    content_type: str
    data: bytes


def attachment_images_for_export(
    *, document_id: UUID | str, max_each: int, max_total: int
) -> dict[UUID, InlineImage]:
    """Return the document's ready images by attachment id, within the limits."""
    rows = attachment_list_ready(document_id=document_id).filter(
        content_type__in=INLINE_TYPES, size_bytes__lte=max_each
    )
    storage = attachment_storage()
    found: dict[UUID, InlineImage] = {}
    total = 0
    for row in rows:
        if total + row.size_bytes > max_total:
            break
        try:
            data = storage.read(
                key=row.storage_key, limit_bytes=max_each, version=row.storage_version
            )
        except StorageUnavailable:
            logger.warning("export: storage unavailable for attachment %s", row.pk)
            break
        if data is None or len(data) != row.size_bytes:
            continue
        found[row.pk] = InlineImage(content_type=row.content_type, data=data)
        total += len(data)
    return found

"""Decide a file's type from its first bytes, never from the client's word."""

import filetype

# Formats with no magic number: accepted only when the bytes look like text.
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/csv"})

# Office Open XML and friends are ZIP files; a short head may not show which.
ZIP_FAMILY = frozenset(
    {
        "application/zip",
        "application/epub+zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)

# Types that a browser could execute if they were ever rendered inline.
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "application/xml",
        "text/xml",
        "text/javascript",
        "application/javascript",
    }
)


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character may be cut at the end of the head.
        return error.start >= len(head) - 3 and error.reason == "unexpected end of data"
    return True


def sniff_matches(*, head: bytes, declared_type: str) -> bool:
    """Return whether ``head`` is consistent with ``declared_type``."""
    kind = filetype.guess(head) if head else None
    if declared_type in TEXT_TYPES:
        return kind is None and _looks_like_text(head)
    if kind is None:
        return False
    if kind.mime == declared_type:
        return True
    if kind.mime == "application/zip":
        return declared_type in ZIP_FAMILY
    return declared_type == "application/zip" and kind.mime in ZIP_FAMILY

"""Decide a file's type from what is stored, never from the client's word.

Binary types are recognised by their first bytes (magic numbers). Text types
have none, so the whole object is checked as it streams past
(:class:`TextCheck`): valid UTF-8, no NUL byte, no character cut off at the
end.
"""

import codecs

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


class TextCheck:
    """Check a stream of chunks is UTF-8 text, in memory bounded by one chunk.

    Feed every chunk in order, then call :meth:`finish`. The incremental
    decoder carries a multi-byte character split between two chunks over to
    the next one; only at the end is an unfinished character an error.
    """

    def __init__(self) -> None:  # noqa: D107
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.is_text = True

    def feed(self, chunk: bytes) -> None:
        """Check one more chunk (a no-op once the stream failed)."""
        if not self.is_text:
            return
        if b"\x00" in chunk:
            self.is_text = False
            return
        try:
            self.decoder.decode(chunk)
        except UnicodeDecodeError:
            self.is_text = False

    def finish(self) -> bool:
        """Return whether everything fed was text, ending on a whole character."""
        if self.is_text:
            try:
                self.decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.is_text = False
        return self.is_text


def is_text(data: bytes) -> bool:
    """Return whether ``data`` (a whole object) is UTF-8 text without NUL."""
    check = TextCheck()
    check.feed(data)
    return check.finish()


def sniff_matches(*, head: bytes, declared_type: str, is_text: bool) -> bool:
    """Return whether the object is consistent with ``declared_type``.

    ``head`` is its first bytes; ``is_text`` the verdict of a
    :class:`TextCheck` over all of it.
    """
    kind = filetype.guess(head) if head else None
    if declared_type in TEXT_TYPES:
        return kind is None and is_text
    if kind is None:
        return False
    if kind.mime == declared_type:
        return True
    if kind.mime == "application/zip":
        return declared_type in ZIP_FAMILY
    return declared_type == "application/zip" and kind.mime in ZIP_FAMILY

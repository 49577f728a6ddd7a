"""Single-range HTTP ``Range`` requests (RFC 9110 section 14) for local files."""

from collections.abc import Iterator
from typing import BinaryIO

CHUNK_BYTES = 256 * 1024


class RangeNotSatisfiable(Exception):  # noqa: N818 - named after the 416 status
    """The range starts past the end of the file."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Return the inclusive (start, end) asked for, or None to send everything.

    Malformed headers and multi-range requests are ignored (the whole file is
    a valid answer to both); a range past the end raises RangeNotSatisfiable.
    """
    unit, _sep, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0 or size == 0:
                raise RangeNotSatisfiable
            return max(size - suffix, 0), size - 1
        start = int(first)
        if start >= size:
            raise RangeNotSatisfiable
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start < 0 or end < start:
        return None
    return start, min(end, size - 1)


def iter_file_range(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    """Yield ``length`` bytes of ``handle`` from ``start``, then close it."""
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()

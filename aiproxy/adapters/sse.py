"""Server-sent events of an upstream answer, decoded as the specification says.

Why not a library: the maintained SSE clients each own the HTTP request
(``httpx-sse`` takes an ``httpx.Response``; ``aiohttp-sse-client`` and
``aiosseclient`` issue their own ``GET`` with reconnection) or are
synchronous (``sseclient-py``), and none caps a line. The upstream
answer here is the body of a ``POST`` already sent by
``aiproxy.adapters.upstream``, so this module only decodes bytes, which the
HTML specification ("Parsing an event stream") defines in a few rules:

- the stream is UTF-8 (invalid bytes become U+FFFD; a leading BOM is
  dropped);
- a line ends at ``\\r\\n``, ``\\n`` or ``\\r`` and at nothing else, so
  U+2028, U+2029, U+0085 or a form feed inside a JSON string stay in the
  text (``str.splitlines`` would split there and lose the delta);
- an empty line dispatches the event; ``:`` starts a comment; a field is
  ``name: value`` (one space after the colon dropped), ``data`` lines are
  joined with ``\\n``; an event the stream ends in the middle of is dropped.

Splitting is linear in the size of the answer: each byte is searched once,
and a partial line is kept as a list of pieces joined once. One line is
capped (:data:`MAX_LINE_BYTES`): a hostile upstream cannot make the proxy
hold an endless line.
"""

import re
from dataclasses import dataclass

MAX_LINE_BYTES = 1024 * 1024

_LINE_END = re.compile(rb"\r\n|\r|\n")
_BOM = "\ufeff"


class SSELineTooLong(ValueError):
    """One line of the event stream is longer than the cap."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: its type (``message`` by default) and data."""

    event: str
    data: str
    id: str = ""


class SSEDecoder:
    """Turn the bytes of an event stream into :class:`SSEEvent` objects.

    Feed it the body as it arrives (:meth:`feed`, any chunking); call
    :meth:`end` once the body is over.
    """

    def __init__(self, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        self._pending: list[bytes] = []  # pieces of the line not yet ended
        self._pending_size = 0
        self._after_cr = False  # the last line ended at a "\r" ending a chunk
        self._first_line = True
        self._event = ""
        self._data: list[str] = []
        self._last_id = ""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Return the events completed by ``chunk``."""
        if not chunk:
            return []
        start = 0
        if self._after_cr:
            self._after_cr = False
            if chunk[0] == 0x0A:  # the "\n" of a "\r\n" split between chunks
                start = 1
        events: list[SSEEvent] = []
        for match in _LINE_END.finditer(chunk, start):
            piece = chunk[start : match.start()]
            if self._pending:
                self._hold(piece)
                line = b"".join(self._pending)
                self._pending.clear()
                self._pending_size = 0
            else:
                if len(piece) > self.max_line_bytes:
                    raise SSELineTooLong(len(piece))
                line = piece
            event = self._line(line)
            if event is not None:
                events.append(event)
            start = match.end()
        if start < len(chunk):
            self._hold(chunk[start:])
        elif chunk[-1] == 0x0D:
            self._after_cr = True
        return events

    def end(self) -> list[SSEEvent]:
        """Finish the stream: a last line without its end still counts.

        An event not closed by an empty line is dropped, as the
        specification says.
        """
        if self._pending:
            line = b"".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
            self._line(line)
        self._event = ""
        self._data = []
        return []

    def _hold(self, piece: bytes) -> None:
        self._pending_size += len(piece)
        if self._pending_size > self.max_line_bytes:
            raise SSELineTooLong(self._pending_size)
        self._pending.append(piece)

    def _line(self, raw: bytes) -> SSEEvent | None:
        """Apply one line; return the event an empty line dispatches."""
        line = raw.decode("utf-8", "replace")
        if self._first_line:
            self._first_line = False
            line = line.removeprefix(_BOM)
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = SSEEvent(
                event=self._event or "message",
                data="\n".join(self._data),
                id=self._last_id,
            )
            self._event = ""
            self._data = []
            return event
        if line[0] == ":":
            return None
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        return None

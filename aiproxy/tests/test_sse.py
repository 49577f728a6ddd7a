"""Server-sent events decoded as the HTML specification says (``adapters.sse``)."""

import pytest

from aiproxy.adapters.sse import SSEDecoder, SSEEvent, SSELineTooLong


def decode(*chunks: bytes, **kwargs) -> list[SSEEvent]:
    decoder = SSEDecoder(**kwargs)
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.end()


def data(*chunks: bytes) -> list[str]:
    return [event.data for event in decode(*chunks)]


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_each_line_end_of_the_specification_ends_a_line(end):
    """``\\n``, ``\\r\\n`` and ``\\r`` each end a line."""
    stream = b"data: one" + end + end + b"data: two" + end + end
    assert data(stream) == ["one", "two"]


@pytest.mark.parametrize(
    "separator", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]
)
def test_other_line_breaks_stay_in_the_text(separator):
    """U+2028, U+2029, NEL, VT, FF and FS..RS are text, not line ends."""
    text = "before" + separator + "after"
    assert data(("data: " + text + "\n\n").encode()) == [text]


def test_crlf_split_between_chunks_is_one_line_end():
    """A ``\\r`` ending one chunk and a ``\\n`` starting the next make one end."""
    assert data(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n") == ["a", "b"]


def test_lone_cr_at_a_chunk_end_then_text():
    """A ``\\r`` at a chunk end followed by text is a line end on its own."""
    assert data(b"data: a\r", b"\r", b"data: b\r\r") == ["a", "b"]


def test_one_byte_chunks_give_the_same_events():
    """The events do not depend on where the chunks are cut."""
    stream = "data: é\u2028x\r\ndata: y\r\r: note\nevent: e\ndata: z\n\n".encode()
    whole = decode(stream)
    assert decode(*(stream[i : i + 1] for i in range(len(stream)))) == whole
    assert whole == [
        SSEEvent(event="message", data="é\u2028x\ny"),
        SSEEvent(event="e", data="z"),
    ]


def test_utf8_split_between_chunks_decoded_whole():
    """A character cut between chunks is decoded once the line is whole."""
    encoded = "data: Grüße\n\n".encode()
    cut = encoded.index("ü".encode()) + 1
    assert data(encoded[:cut], encoded[cut:]) == ["Grüße"]


def test_fields_comments_and_spaces():
    """One space after the colon is dropped; comments and unknown fields ignored."""
    stream = b": comment\ndata:no space\ndata:  two spaces\nretry: 5\nfoo: bar\n\n"
    assert data(stream) == ["no space\n two spaces"]


def test_field_without_colon_is_an_empty_value():
    """``data`` alone on a line appends an empty line of data."""
    assert data(b"data\ndata: x\n\n") == ["\nx"]


def test_event_type_and_id_are_kept():
    """``event`` sets the type of the next event only; ``id`` is remembered."""
    events = decode(b"event: ping\nid: 7\ndata: a\n\ndata: b\n\n")
    assert events == [
        SSEEvent(event="ping", data="a", id="7"),
        SSEEvent(event="message", data="b", id="7"),
    ]


def test_empty_lines_without_data_dispatch_nothing():
    """Blank lines and an event with only a type dispatch no event."""
    assert data(b"\n\n\nevent: x\n\n\n") == []


def test_leading_bom_dropped():
    """A UTF-8 byte-order mark at the start of the stream is not part of a field."""
    assert data(b"\xef\xbb\xbfdata: a\n\n") == ["a"]


def test_invalid_utf8_replaced_not_raised():
    """Invalid UTF-8 becomes U+FFFD instead of failing the stream."""
    assert data(b"data: a\xffb\n\n") == ["a\ufffdb"]


def test_event_cut_by_the_end_of_the_stream_is_dropped():
    """An event without its closing empty line is not dispatched."""
    assert data(b"data: done\n\ndata: half") == ["done"]
    assert data(b"data: done\n\ndata: half\n") == ["done"]


def test_line_longer_than_the_cap_refused():
    """A line past ``max_line_bytes`` raises, in one chunk or many."""
    with pytest.raises(SSELineTooLong):
        decode(b"data: " + b"x" * 100 + b"\n", max_line_bytes=64)
    decoder = SSEDecoder(max_line_bytes=64)
    decoder.feed(b"data: " + b"x" * 40)
    with pytest.raises(SSELineTooLong):
        decoder.feed(b"x" * 40)


def test_line_at_the_cap_accepted():
    """A line of exactly ``max_line_bytes`` is fine, split or not."""
    line = b"data: " + b"x" * 58  # 64 bytes
    assert [e.data for e in decode(line + b"\n\n", max_line_bytes=64)] == ["x" * 58]
    decoder = SSEDecoder(max_line_bytes=64)
    events = decoder.feed(line[:30]) + decoder.feed(line[30:] + b"\n\n")
    assert [event.data for event in events] == ["x" * 58]

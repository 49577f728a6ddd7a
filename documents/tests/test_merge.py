"""The three-way line merge (documents/merge.py), by example and by property.

The properties run over random documents and random edits (Hypothesis):

- edits of the two sides that do not overlap (at least one untouched line
  between them) always merge, into exactly the text with both applied;
- whatever the edits, a merge that succeeds keeps every line either side
  added, and one side left as the base gives the other side's text.
"""

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from documents.merge import merge_body, merge_document, merge_title

# --- By example ------------------------------------------------------------------


def test_merge_body_edits_in_different_paragraphs_merge():
    """Two writers in different paragraphs: both edits are in the result."""
    base = "# Plan\n\nFirst paragraph.\n\nSecond paragraph.\n"
    ours = "# Plan\n\nFirst paragraph, edited.\n\nSecond paragraph.\n"
    theirs = "# Plan\n\nFirst paragraph.\n\nSecond paragraph, theirs.\n"

    merged, hunks = merge_body(base=base, ours=ours, theirs=theirs)

    assert merged == "# Plan\n\nFirst paragraph, edited.\n\nSecond paragraph, theirs.\n"
    assert hunks == []


def test_merge_body_same_line_changed_differently_is_one_hunk():
    """The same line changed two ways is a conflict with its three texts."""
    base = "one\ntwo\nthree\n"

    merged, hunks = merge_body(
        base=base, ours="one\nTWO\nthree\n", theirs="one\n2\nthree\n"
    )

    assert merged is None
    assert [(h.base_line, h.base, h.theirs, h.ours) for h in hunks] == [
        (2, "two\n", "2\n", "TWO\n")
    ]


def test_merge_body_insertions_at_the_same_place_conflict():
    """Two different insertions at the same point cannot be ordered: conflict."""
    merged, hunks = merge_body(
        base="Line one\n",
        ours="Line one\nFrom the second tab\n",
        theirs="Line one\nFrom the first tab\n",
    )

    assert merged is None
    assert [(h.base_line, h.base, h.theirs, h.ours) for h in hunks] == [
        (2, "", "From the first tab\n", "From the second tab\n")
    ]


def test_merge_body_identical_changes_are_taken_once():
    """Both sides making the same change is agreement, not a conflict."""
    merged, hunks = merge_body(
        base="a\nb\nc\n", ours="a\nB\nc\nd\n", theirs="a\nB\nc\n"
    )

    assert (merged, hunks) == ("a\nB\nc\nd\n", [])


def test_merge_body_keeps_a_missing_final_newline():
    """Line endings, the last line's included, come through unchanged."""
    merged, hunks = merge_body(
        base="a\r\nb\r\n\r\nc", ours="A\r\nb\r\n\r\nc", theirs="a\r\nb\r\n\r\nc!"
    )

    assert (merged, hunks) == ("A\r\nb\r\n\r\nc!", [])


def test_merge_body_several_conflicts_are_all_reported():
    """Every overlapping region is a hunk, in the order of the base."""
    base = "1\n\n2\n\n3\n"

    merged, hunks = merge_body(
        base=base, ours="1a\n\n2\n\n3a\n", theirs="1b\n\n2\n\n3b\n"
    )

    assert merged is None
    assert [h.base_line for h in hunks] == [1, 5]


def test_merge_title_rules():
    """The title merges when at most one side changed it (or both the same way)."""
    assert merge_title(base="T", ours="T", theirs="Theirs") == "Theirs"
    assert merge_title(base="T", ours="Ours", theirs="T") == "Ours"
    assert merge_title(base="T", ours="Same", theirs="Same") == "Same"
    assert merge_title(base="T", ours="Ours", theirs="Theirs") is None


def test_merge_document_title_conflict_with_clean_body_is_not_clean():
    """A title changed on both sides stops the merge even if the body merges."""
    outcome = merge_document(
        base=("T", "a\n"), ours=("Ours", "a\nb\n"), theirs=("Theirs", "a\n")
    )

    assert (outcome.title, outcome.body, outcome.is_clean) == (None, "a\nb\n", False)


# --- By property -----------------------------------------------------------------

# Lines of a small alphabet, so that documents repeat lines (as Markdown
# repeats blank lines, list markers and headings) and diffs are ambiguous.
small_lines = st.lists(st.sampled_from(["\n", "a\n", "b\n", "- c\n", "# d\n"]))


@st.composite
def non_overlapping_edits(draw):
    """Return (base, ours, theirs, expected): disjoint edits of unique lines.

    Every base line is unique and every inserted line is new, so the one
    right answer is the base with both sides' edits applied. Each edit
    replaces ``base[start:end]`` (empty: an insertion) with new lines
    (none: a deletion); any two edits are at least one untouched line apart.
    """
    size = draw(st.integers(min_value=0, max_value=30))
    base = [
        f"base line {i}: {draw(st.text('xyz ', max_size=5))}\n" for i in range(size)
    ]
    # Cut points at which edits start and end, in order; an edit spans
    # [cuts[k], cuts[k+1]) and the next one starts past an untouched line.
    edits: list[tuple[int, int, str]] = []
    position = 0
    while position <= size and len(edits) < 8:
        start = draw(st.integers(min_value=position, max_value=size))
        end = draw(st.integers(min_value=start, max_value=min(size, start + 3)))
        side = draw(st.sampled_from(["ours", "theirs"]))
        edits.append((start, end, side))
        position = end + 1
        if not draw(st.booleans()):
            break
    sides: dict[str, list[str]] = {"ours": list(base), "theirs": list(base)}
    expected = list(base)
    counter = 0
    # Applied from the end, so earlier positions stay valid.
    for start, end, side in reversed(edits):
        count = draw(st.integers(min_value=0 if end > start else 1, max_value=3))
        new = []
        for _ in range(count):
            counter += 1
            new.append(f"{side} added {counter}\n")
        sides[side][start:end] = new
        expected[start:end] = new
    return (
        "".join(base),
        "".join(sides["ours"]),
        "".join(sides["theirs"]),
        "".join(expected),
    )


@settings(max_examples=300, deadline=None)
@given(non_overlapping_edits())
def test_merge_body_non_overlapping_edits_equal_both_applied(case):
    """Edits that do not overlap always merge, into both sides' edits applied."""
    base, ours, theirs, expected = case

    merged, hunks = merge_body(base=base, ours=ours, theirs=theirs)

    assert hunks == []
    assert merged == expected


@settings(max_examples=500, deadline=None)
@given(base=small_lines, ours=small_lines, theirs=small_lines)
def test_merge_body_success_never_loses_an_added_line(base, ours, theirs):
    """A merge that succeeds holds every line either side added (with repeats)."""
    merged, hunks = merge_body(
        base="".join(base), ours="".join(ours), theirs="".join(theirs)
    )

    if merged is None:
        assert hunks
        return
    result = Counter(merged.splitlines(keepends=True))
    for side in (ours, theirs):
        added = Counter(side) - Counter(base)
        assert not added - result, (added, result)


@settings(max_examples=300, deadline=None)
@given(base=small_lines, side=small_lines)
def test_merge_body_one_side_unchanged_gives_the_other(base, side):
    """When one side left the base as it was, the merge is the other side."""
    base_text, side_text = "".join(base), "".join(side)

    assert merge_body(base=base_text, ours=base_text, theirs=side_text) == (
        side_text,
        [],
    )
    assert merge_body(base=base_text, ours=side_text, theirs=base_text) == (
        side_text,
        [],
    )
    assert merge_body(base=base_text, ours=side_text, theirs=side_text) == (
        side_text,
        [],
    )


@settings(max_examples=300, deadline=None)
@given(base=small_lines, ours=small_lines, theirs=small_lines)
def test_merge_body_conflict_hunks_come_from_the_texts(base, ours, theirs):
    """Each hunk's three texts are runs of lines of base, theirs and ours."""
    base_text, ours_text, theirs_text = "".join(base), "".join(ours), "".join(theirs)

    merged, hunks = merge_body(base=base_text, ours=ours_text, theirs=theirs_text)

    for hunk in hunks:
        assert hunk.base in base_text
        assert hunk.ours in ours_text
        assert hunk.theirs in theirs_text
        assert hunk.ours != hunk.theirs
        assert 1 <= hunk.base_line <= len(base) + 1

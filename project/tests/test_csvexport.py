"""Streamed CSV for staff: cells safe for spreadsheets, lines yielded one by one."""

import datetime as dt
from decimal import Decimal

import pytest

from project.csvexport import csv_cell, csv_lines, csv_response


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (Decimal("0E-10"), "0.0000000000"),
        (Decimal("0.0114275000"), "0.0114275000"),
        (7, 7),
        (dt.date(2026, 12, 1), "2026-12-01"),
        (
            dt.datetime(
                2026, 12, 3, 19, 25, 7, 900, tzinfo=dt.timezone(dt.timedelta(hours=1))
            ),
            "2026-12-03 18:25:07",
        ),
        ("plain", "plain"),
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
    ],
)
def test_csv_cell_shapes_each_type(value, cell):
    """Times are UTC to the second, decimals exact, formulas neutralised."""
    assert csv_cell(value) == cell


def test_csv_lines_yield_the_header_first_then_one_line_per_row():
    """Each row is one line, quoted where needed, CRLF-terminated (RFC 4180)."""
    lines = list(csv_lines(["a", "b"], [[1, "x,y"], [2, 'say "hi"']]))
    assert lines == ["a,b\r\n", '1,"x,y"\r\n', '2,"say ""hi"""\r\n']


def test_csv_lines_are_lazy():
    """Rows are read only as lines are asked for: nothing is held in memory."""
    read = []

    def rows():
        for n in range(3):
            read.append(n)
            yield [n]

    lines = csv_lines(["n"], rows())
    assert next(lines) == "n\r\n"
    assert read == []
    assert next(lines) == "0\r\n"
    assert read == [0]


def test_csv_response_is_a_streamed_attachment():
    """The response streams, names the file and forbids caching."""
    response = csv_response(filename="x.csv", header=["a"], rows=iter([[1]]))
    assert response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert response["Cache-Control"] == "no-store"
    assert b"".join(response.streaming_content) == b"a\r\n1\r\n"

"""CSV downloads for staff, streamed as the database yields the rows.

Django's documented pattern for large CSV files ("Streaming large CSV files"
in *How to create CSV output*): ``csv.writer`` writing to a pseudo-buffer that
hands each line back, wrapped in a ``StreamingHttpResponse``. Neither the rows
nor the file are held in memory, however many rows the export has.

Cells are made safe for spreadsheets: a text cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is prefixed with ``'`` so that a
spreadsheet does not run it as a formula (an email or a name is typed by
users). Times are UTC to the second (``2026-12-03 18:25:07``, the column
name says ``_utc``); decimals are exact.
"""

import csv
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPE = "text/csv; charset=utf-8"


class _Echo:
    """A file-like object whose ``write`` returns what it was given."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: Any) -> Any:
    """Return ``value`` as a CSV cell: UTC times, exact decimals, no formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Yield the CSV text line by line: the header, then one line per row."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_response(
    *, filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """Return a streamed CSV download of ``rows`` under ``header``.

    Marked ``no-store``: an export holds personal data, no cache keeps it.
    """
    response = StreamingHttpResponse(csv_lines(header, rows), content_type=CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=filename
    )
    response["Cache-Control"] = "no-store"
    return response

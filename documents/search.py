"""Full-text search: PostgreSQL tsvector with ranking and headlines, or a fallback.

PostgreSQL reads the generated ``search_vector`` column made by migration
0003 (kept in the row by 0004, indexed with the owner by 0005); other
databases (SQLite in development) match every word with ``icontains`` and
build the snippet in Python. Both give the same shape: :func:`search_filter`
annotates ``rank``, :func:`headlines` returns the raw headline of the few
documents on the page, and :func:`snippet_for` turns one into a snippet in
which matches are wrapped in ``<mark>`` and everything else is HTML-escaped.
Headlines are a separate step because ``ts_headline`` parses the whole body:
computed in the ranking query it ran for every row of every branch up to the
page's offset, not only for the rows shown.
"""

import html
import re
from collections.abc import Iterable
from uuid import UUID

from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVectorField,
)
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Expression,
    FloatField,
    Func,
    Q,
    Value,
    When,
)
from django.db.models.functions import Left

from documents.models import Document

SEARCH_CONFIG = "english"
HEADLINE_SOURCE_CHARS = 100_000
# Control characters never stored in documents (input validation rejects them),
# so they can mark highlights safely before the text is HTML-escaped.
_START, _STOP = "\x02", "\x03"
_SNIPPET_CHARS = 200


class SearchVectorColumn(Expression):
    """The generated ``search_vector`` column of ``documents_document``."""

    def as_sql(self, compiler, connection):
        table = compiler.quote_name_unless_alias(Document._meta.db_table)
        return f"{table}.search_vector", []


class _Matches(Func):
    arg_joiner = " @@ "
    template = "(%(expressions)s)"
    output_field = BooleanField()


def is_full_text() -> bool:
    """Return whether the database has the tsvector column (PostgreSQL)."""
    return connection.vendor == "postgresql"


def search_terms(q: str) -> list[str]:
    """Split a query into the words the fallback matches."""
    return [word for word in re.findall(r"\w+", q.lower()) if word][:20]


def search_filter(queryset, q: str):
    """Filter ``queryset`` to documents matching ``q`` and annotate ``rank``."""
    if is_full_text():
        query = _query(q)
        vector = SearchVectorColumn(output_field=SearchVectorField())
        return queryset.filter(_Matches(vector, query)).annotate(
            rank=SearchRank(vector, query)
        )
    terms = search_terms(q)
    condition = Q(pk__in=[]) if not terms else Q()
    for term in terms:
        condition &= Q(title__icontains=term) | Q(body__icontains=term)
    title_hit = Q(pk__in=[])
    for term in terms:
        title_hit |= Q(title__icontains=term)
    return queryset.filter(condition).annotate(
        rank=Case(
            When(title_hit, then=Value(1.0)),
            default=Value(0.0),
            output_field=FloatField(),
        )
    )


def headlines(document_ids: Iterable[UUID], q: str) -> dict[UUID, str]:
    """Return the raw headline for ``q`` of each document, for :func:`snippet_for`.

    One query whatever the number of documents; a document that is gone is
    simply absent.
    """
    ids = list(document_ids)
    if not ids:
        return {}
    source = Left("body", HEADLINE_SOURCE_CHARS)
    if is_full_text():
        source = SearchHeadline(
            source,
            _query(q),
            config=SEARCH_CONFIG,
            start_sel=_START,
            stop_sel=_STOP,
            max_words=35,
            min_words=15,
            max_fragments=2,
            fragment_delimiter=" … ",
        )
    rows = Document.objects.filter(pk__in=ids).annotate(headline=source)
    return dict(rows.values_list("pk", "headline"))


def _query(q: str) -> SearchQuery:
    return SearchQuery(q, config=SEARCH_CONFIG, search_type="websearch")


def snippet_for(headline: str | None, q: str) -> str:
    """Return an HTML-safe snippet with matches in ``<mark>``."""
    text = headline or ""
    if not is_full_text():
        text = _fallback_headline(text, search_terms(q))
    escaped = html.escape(text, quote=False)
    return escaped.replace(_START, "<mark>").replace(_STOP, "</mark>")


def _fallback_headline(body: str, terms: list[str]) -> str:
    lowered = body.lower()
    positions = [lowered.find(term) for term in terms if term in lowered]
    start = max(min(positions) - 60, 0) if positions else 0
    excerpt = body[start : start + _SNIPPET_CHARS]
    if not terms:
        return excerpt
    pattern = re.compile("|".join(re.escape(term) for term in terms), re.IGNORECASE)
    return pattern.sub(lambda match: _START + match.group(0) + _STOP, excerpt)

"""PostgreSQL storage and index of the search vector (migrations 0004, 0005)."""

import random

from django.db import connection

import pytest

from documents.tests.factories import DocumentFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgresql,  # the full-text search column and index
]


def _row(sql: str, params: tuple = ()) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _scalar(sql: str, params: tuple = ()):
    return _row(sql, params)[0]


def _toast_bytes() -> int:
    toast = _scalar(
        "SELECT reltoastrelid::regclass::text FROM pg_class "
        "WHERE oid = 'documents_document'::regclass"
    )
    return _scalar(f"SELECT coalesce(sum(octet_length(chunk_data)), 0) FROM {toast}")  # noqa: S608


def test_search_vector_of_a_typical_document_stays_in_the_row():
    """A ~2 kB vector is kept in the heap row; only the body may go to TOAST."""
    rng = random.Random(7)
    words = ["".join(rng.choices("abcdefghijklmnop", k=8)) for _ in range(250)]
    before = _toast_bytes()

    document = DocumentFactory(title="A short title", body=" ".join(words))

    vector_size, body_size = _row(
        "SELECT pg_column_size(search_vector), pg_column_size(body) "
        "FROM documents_document WHERE id = %s",
        (document.pk,),
    )
    assert vector_size > 2000  # large enough that EXTENDED storage moved it out
    assert _toast_bytes() - before in (0, body_size)


def test_title_and_vector_use_main_storage():
    """Title and vector are the columns PostgreSQL keeps in the row."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, attstorage FROM pg_attribute "
            "WHERE attrelid = 'documents_document'::regclass "
            "AND attname IN ('title', 'search_vector', 'body')"
        )
        storage = dict(cursor.fetchall())

    assert storage == {"title": "m", "search_vector": "m", "body": "x"}


def test_search_index_covers_owner_and_vector():
    """One GIN index on (owner, vector) replaces the vector-only one of 0003."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'documents_document'"
        )
        indexes = dict(cursor.fetchall())

    assert indexes["documents_document_owner_search_gin"].endswith(
        "USING gin (owner_id, search_vector)"
    )
    assert "documents_document_search_gin" not in indexes

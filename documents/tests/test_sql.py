"""The hand-written hot reads (``documents.sql``) on PostgreSQL: prepared, same values."""

from django.db import connection

import pytest

from documents import sql
from documents.tests.factories import DocumentFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgresql,  # prepared statements
]


@pytest.fixture(autouse=True)
def _nothing_prepared() -> None:
    """Start from a session with no prepared statements (psycopg forgets too)."""
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_sql_hot_reads_are_prepared_statements(user):
    """After ``prepare_threshold`` runs, the read and the list page are prepared."""
    document = DocumentFactory(owner=user)
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    for _ in range(threshold + 1):
        assert sql.document_read(document_id=document.pk, user_id=user.pk) is not None
        rows = sql.list_page(
            user_id=user.pk,
            branches=(sql.OWNED, sql.SHARED),
            key="updated_at",
            desc=True,
            after=None,
            limit=2,
        )
        assert [row["id"] for row in rows] == [document.pk]
    statements = _prepared()
    assert any("UNION ALL" in s for s in statements)
    assert any("LEFT JOIN" in s and "UNION" not in s for s in statements)


def test_sql_hot_reads_give_the_orms_values(user):
    """Server-bound, prepared results equal what the ORM reads (types, time zone)."""
    document = DocumentFactory(owner=user, last_editor=user)
    expected = type(document).objects.get(pk=document.pk)
    read = sql.document_read(document_id=document.pk, user_id=user.pk)
    for field in ("id", "title", "body", "version", "created_at", "updated_at"):
        assert getattr(read, field) == getattr(expected, field)
    assert read.created_at.utcoffset().total_seconds() == 0
    (row,) = sql.list_page(
        user_id=user.pk,
        branches=(sql.OWNED,),
        key="updated_at",
        desc=True,
        after=None,
        limit=5,
    )
    assert row["updated_at"] == expected.updated_at
    assert row["owner_id"] == user.pk
    assert row["owner__email"] == user.email


def test_sql_prepared_statements_show_in_query_logs(user):
    """Query logs show a prepared statement's SQL, not None."""
    from django.test.utils import CaptureQueriesContext

    document = DocumentFactory(owner=user)
    with CaptureQueriesContext(connection) as queries:
        sql.document_read(document_id=document.pk, user_id=user.pk)
    (query,) = queries.captured_queries
    assert query["sql"].startswith("SELECT d.")
    assert document.pk.hex in query["sql"]

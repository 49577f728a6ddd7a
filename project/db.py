"""The database connection and cursor for the API's hottest statements.

``documents.sql`` (the document read and the list page) and
``accounts.selectors.user_get_by_sub`` (run by every authenticated request)
use these instead of the ``django.db.connection`` proxy and a plain cursor.
"""

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper


def default_db() -> BaseDatabaseWrapper:
    """Return this thread's default connection, looked up once.

    Every attribute read through the ``django.db.connection`` proxy looks the
    connection up again in its thread-local storage.
    """
    return connections[DEFAULT_DB_ALIAS]


def hot_cursor(db: BaseDatabaseWrapper) -> CursorWrapper:
    """Return a cursor that loads ``timestamptz`` in C on PostgreSQL.

    Django loads ``timestamptz`` text with a Python subclass of psycopg's
    loader (to attach its time zone), ~3 µs per value: a list page's 150
    timestamps cost ~0.35 ms of its ~1.6 ms. On this cursor only, psycopg's
    own loader (its C implementation) reads them: the same aware UTC values,
    since Django sets the connection's ``TimeZone`` to UTC (``USE_TZ``).
    ``documents/tests/test_sql.py`` and ``accounts/tests/test_selectors.py``
    compare them with the ORM's.
    """
    cursor = db.cursor()
    if db.vendor == "postgresql":
        from psycopg.types.datetime import TimestamptzLoader

        cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
    return cursor

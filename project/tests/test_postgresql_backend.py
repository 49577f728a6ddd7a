"""The PostgreSQL backend's alive-bypass window for health checks."""

import math

from django.db import connection, connections

import pytest

from project import postgresql
from project.postgresql.base import ALIVE_BYPASS_SECONDS

pytestmark = [
    pytest.mark.django_db(transaction=True),  # autocommit, as between requests
    pytest.mark.postgresql,
]


@pytest.fixture
def health_queries(monkeypatch):
    """Count the health check's ``SELECT 1`` (``is_usable``) on this connection."""
    calls: list[bool] = []
    real = connection.is_usable

    def counted() -> bool:
        calls.append(True)
        return real()

    monkeypatch.setattr(connection, "is_usable", counted)
    return calls


def _request(*, fail: bool = False) -> None:
    """Do what Django does around a request that runs one query."""
    connection.close_if_unusable_or_obsolete()  # request_started
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
    if fail:
        connection.errors_occurred = True  # as Django marks a failed query
    connection.close_if_unusable_or_obsolete()  # request_finished


def test_backend_is_the_projects():
    """PostgreSQL settings use this backend."""
    assert isinstance(connections["default"], postgresql.base.DatabaseWrapper)


def test_backend_skips_health_query_right_after_a_good_request(health_queries):
    """A connection that just served a request is not pinged again."""
    _request()
    health_queries.clear()
    _request()
    assert health_queries == []


def test_backend_checks_a_connection_idle_past_the_window(health_queries):
    """A connection idle longer than the window is checked before use."""
    _request()
    connection.alive_at -= ALIVE_BYPASS_SECONDS + 0.1
    health_queries.clear()
    _request()
    assert health_queries == [True]


def test_backend_checks_after_a_request_with_an_error(health_queries):
    """A connection that saw an error is checked, however recent."""
    _request(fail=True)
    assert connection.alive_at == -math.inf

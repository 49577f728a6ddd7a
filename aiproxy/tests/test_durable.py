"""Charges are committed durably: no ``synchronous_commit = off`` on the AI threads."""

from django.db import connection

import pytest
from asgiref.sync import async_to_sync

from aiproxy.services import quota_reserve, run_db
from aiproxy.tests.factories import AIModelFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.postgresql  # synchronous_commit is PostgreSQL's
def test_ai_database_thread_commits_charges_durably(settings, user):
    """A reservation written on an AI database thread commits with the server's
    durable default (``synchronous_commit`` on), the ledger row included."""
    settings.AI_DB_THREAD_SENSITIVE = False  # the serving pool, as in production
    model = AIModelFactory()

    def reserve_then_look() -> str:
        quota_reserve(user=user, model=model, tokens_needed=10)
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    assert async_to_sync(run_db)(reserve_then_look) == "on"

"""Django's PostgreSQL backend, with an alive-bypass window for health checks.

(And query logging that shows prepared statements, see DatabaseOperations.)

``CONN_HEALTH_CHECKS`` makes Django send ``SELECT 1`` before the first query
of every request that reuses a connection. Under load that round trip waits
for a busy database like any other, and it was a quarter of a list request's
time at 32 connections (BENCHMARKS.md). A connection whose last request ran
its queries without an error less than ``ALIVE_BYPASS_SECONDS`` ago is taken
as alive (HikariCP's "alive bypass window"); an idle one is checked as before,
and one that saw an error is always checked or closed. The one difference:
a connection cut in the last second fails the request that finds it, instead
of being replaced first; Django then closes it at the end of that request.
"""

import math
import time

from django.db.backends.postgresql import base, operations

ALIVE_BYPASS_SECONDS = 1.0


class DatabaseOperations(operations.DatabaseOperations):
    """Django's, able to show the statements of server-binding cursors too."""

    def last_executed_query(self, cursor, sql, params):  # noqa: ANN001, ANN201
        """Return the SQL as sent; composed here when psycopg kept none.

        The prepared cursor (``project.postgresql.prepared``) binds on the
        server, where Django's version finds no composed query and logs
        ``None`` (``connection.queries``, ``assertNumQueries`` messages).
        """
        found = super().last_executed_query(cursor, sql, params)
        return found if found is not None else self.compose_sql(sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    """PostgreSQL, skipping the health query on a connection that just worked."""

    ops_class = DatabaseOperations

    alive_at = -math.inf

    def close_if_unusable_or_obsolete(self) -> None:
        """At a request's start or end; note a connection the last request used well."""
        if self.connection is not None and self.health_check_done:
            # health_check_done is reset below and set again only once a
            # request has used the connection: True here means the request
            # ending now ran its queries, and errors_occurred says how.
            self.alive_at = -math.inf if self.errors_occurred else time.monotonic()
        super().close_if_unusable_or_obsolete()

    def close_if_health_check_failed(self) -> None:
        """Check the connection before a request's first query, unless it just worked."""
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.errors_occurred
            and time.monotonic() - self.alive_at < ALIVE_BYPASS_SECONDS
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

"""Start-up facts about where the process runs: ECS task IPs, migration state.

Both run once per process at start-up, never per request.
"""

import json
import logging
import urllib.request
from typing import Any

logger = logging.getLogger(__name__)


def ecs_private_ips(metadata_uri: str, *, timeout: float = 1.0) -> list[str]:
    """Return the task's private IPv4 addresses from the ECS metadata endpoint.

    ``metadata_uri`` is ``$ECS_CONTAINER_METADATA_URI_V4`` (a link-local
    address ECS injects into every container). The ALB health-checks a target
    with ``Host: <private IP>``, so that address must be in ALLOWED_HOSTS.
    Any failure returns ``[]``: the public host names still work.
    """
    if not metadata_uri.startswith(("http://", "https://")):
        return []
    try:
        with urllib.request.urlopen(metadata_uri, timeout=timeout) as response:  # noqa: S310
            document: Any = json.load(response)
    except (OSError, ValueError) as error:
        logger.warning("ECS metadata unavailable: %s", type(error).__name__)
        return []
    addresses: list[str] = []
    networks = document.get("Networks", []) if isinstance(document, dict) else []
    for network in networks:
        for address in network.get("IPv4Addresses", []) or []:
            if isinstance(address, str) and address not in addresses:
                addresses.append(address)
    return addresses


def unapplied_migrations() -> list[str]:
    """Return ``app.migration`` names not yet applied to the default database."""
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    connection = connections["default"]
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    finally:
        # Request threads open their own connections; drop this start-up one.
        connection.close()
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def check_migrated() -> None:
    """Refuse to serve (raise) when ``REQUIRE_MIGRATED`` and migrations are pending.

    Called by the WSGI and ASGI entry points, so a gunicorn worker fails to
    boot and the container exits with the reason in its log.
    """
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    if not getattr(settings, "REQUIRE_MIGRATED", False):
        return
    pending = unapplied_migrations()
    if pending:
        logger.critical(
            "refusing to serve: %s unapplied migrations (%s); run "
            "`python manage.py migrate` as a one-off task first",
            len(pending),
            ", ".join(pending),
        )
        raise ImproperlyConfigured(
            f"{len(pending)} unapplied migrations: {', '.join(pending)}"
        )


def check_identity() -> None:
    """Refuse to serve (raise) when the token issuer's settings are incomplete.

    Without the local issuer (production switches it off), every bearer token
    is checked against Cognito; with ``COGNITO_AWS_REGION``,
    ``COGNITO_USER_POOL`` or ``COGNITO_AUDIENCE`` empty, every signed-in
    request would answer 503 while ``/healthz`` and ``/readyz`` said all was
    well. Failing the worker's boot instead makes the deploy fail where it is
    made (the task stops, ECS's circuit breaker rolls back), with the missing
    names in the log. The same rule as the request path
    (:func:`accounts.tokens.get_validator`), so the two cannot drift.
    """
    from django.core.exceptions import ImproperlyConfigured

    from accounts.tokens import IssuerNotConfigured, get_validator

    try:
        get_validator()
    except IssuerNotConfigured as error:
        logger.critical("refusing to serve: Cognito sign-in needs %s", error)
        raise ImproperlyConfigured(f"Cognito sign-in needs {error}") from None


def check_ready_to_serve() -> None:
    """Run the start-up checks of a serving process (WSGI and ASGI entry points)."""
    check_identity()
    check_migrated()

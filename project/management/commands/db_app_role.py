"""Create or update the database role the services connect as, and its grants.

Run by the migrate task as the RDS master user, after ``migrate``. The role's
credentials come from the application secret (``DATABASE_APP_SECRET_ARN``, an
RDS JSON secret that Secrets Manager rotates with alternating users): the
secret's current user is ``<role>`` or ``<role>_clone``, the second one a
member of the first, so privileges are granted to ``<role>`` only.

The role may read and write rows and use sequences in the schema, and nothing
else: it owns no table, cannot create or alter any (migrations run as the
master user) and cannot create roles or databases.
"""

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from psycopg import sql

from project.secrets import read_secret

CLONE_SUFFIX = "_clone"
LIMITS = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


def _role_exists(cursor: Any, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
    return cursor.fetchone() is not None


def app_role_sync(*, username: str, password: str, schema: str = "public") -> str:
    """Create or update the application role for ``username``; return the role.

    Privileges go to the base role (``username`` without ``_clone``); the
    user named by the secret gets LOGIN with the secret's password.
    """
    if not username or not password:
        raise ValueError("the application secret needs a username and a password")
    base = username.removesuffix(CLONE_SUFFIX)
    owner = connection.settings_dict["USER"]
    database = connection.settings_dict["NAME"]
    role = sql.Identifier(base)
    with transaction.atomic(), connection.cursor() as cursor:
        if username != base and not _role_exists(cursor, base):
            # The base role holds the privileges; the clone logs in.
            cursor.execute(
                sql.SQL("CREATE ROLE {} WITH NOLOGIN " + LIMITS).format(role)
            )
        elif username != base:
            cursor.execute(sql.SQL("ALTER ROLE {} WITH " + LIMITS).format(role))
        verb = "ALTER" if _role_exists(cursor, username) else "CREATE"
        cursor.execute(
            sql.SQL("{} ROLE {} WITH LOGIN " + LIMITS + " PASSWORD {}").format(
                sql.SQL(verb), sql.Identifier(username), sql.Literal(password)
            )
        )
        if username != base:
            cursor.execute(
                sql.SQL("GRANT {} TO {}").format(role, sql.Identifier(username))
            )
        statements = [
            "GRANT CONNECT ON DATABASE {database} TO {role}",
            "GRANT USAGE ON SCHEMA {schema} TO {role}",
            "REVOKE CREATE ON SCHEMA {schema} FROM {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
            "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
            # Tables the next migrations create (as the owner) are covered too.
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
            "GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
        ]
        for statement in statements:
            cursor.execute(
                sql.SQL(statement).format(
                    database=sql.Identifier(database),
                    schema=sql.Identifier(schema),
                    role=role,
                    owner=sql.Identifier(owner),
                )
            )
    return base


class Command(BaseCommand):
    help = (
        "Create or update the services' database role (from the secret named "
        "by DATABASE_APP_SECRET_ARN) and grant it row access to every table."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        secret_id = getattr(settings, "DATABASE_APP_SECRET_ARN", "")
        if not secret_id:
            raise CommandError("Set DATABASE_APP_SECRET_ARN (the services' secret).")
        if connection.vendor != "postgresql":
            raise CommandError("db_app_role needs PostgreSQL.")
        raw = read_secret(secret_id, variable="DATABASE_APP_SECRET_ARN")
        try:
            secret = json.loads(raw)
        except ValueError:
            secret = None
        if not isinstance(secret, dict):
            raise CommandError(f"DATABASE_APP_SECRET_ARN: {secret_id!r} is not JSON.")
        try:
            role = app_role_sync(
                username=str(secret.get("username") or ""),
                password=str(secret.get("password") or ""),
            )
        except ValueError as error:
            raise CommandError(f"DATABASE_APP_SECRET_ARN: {error}.") from None
        self.stdout.write(f"Database role {role} is up to date.")

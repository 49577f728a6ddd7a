"""``manage.py db_app_role``: the services' least-privilege database role."""

import json
import uuid
from collections.abc import Iterator

from django.core.management import CommandError, call_command
from django.db import connection

import boto3
import psycopg
import pytest

from project.management.commands.db_app_role import app_role_sync

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="database roles are PostgreSQL's"
    ),
]
PASSWORD = "app-role-test-password"  # noqa: S105 - a throwaway test role


@pytest.fixture
def role_name() -> Iterator[str]:
    """A cluster-wide role name unique to the test, dropped afterwards."""
    name = f"quire_app_{uuid.uuid4().hex[:8]}"
    yield name
    with connection.cursor() as cursor:
        for role in (name + "_clone", name):
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone():
                cursor.execute(f'DROP OWNED BY "{role}"')
                cursor.execute(f'DROP ROLE "{role}"')


def connect_as(user: str) -> psycopg.Connection:
    """Open a connection to the test database as ``user``."""
    params = connection.settings_dict
    return psycopg.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
        dbname=params["NAME"],
        user=user,
        password=PASSWORD,
        autocommit=True,
    )


def test_app_role_sync_grants_row_access_to_every_table(role_name):
    """The role reads and writes rows of the app's tables."""
    app_role_sync(username=role_name, password=PASSWORD)
    with connect_as(role_name) as conn:
        conn.execute("SELECT count(*) FROM django_migrations").fetchone()
        conn.execute(
            "INSERT INTO project_throttlebucket (key, window_start, hits) "
            "VALUES ('db-app-role-test', 0, 1)"
        )
        conn.execute(
            "DELETE FROM project_throttlebucket WHERE key = 'db-app-role-test'"
        )


def test_app_role_sync_refuses_schema_changes(role_name):
    """The role cannot create, alter or drop tables, nor create roles."""
    app_role_sync(username=role_name, password=PASSWORD)
    with connect_as(role_name) as conn:
        for statement in (
            "CREATE TABLE db_app_role_probe (id int)",
            "DROP TABLE django_migrations",
            "ALTER TABLE django_migrations ADD COLUMN probe int",
            "TRUNCATE django_migrations",
            "CREATE ROLE db_app_role_probe",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_app_role_sync_covers_tables_created_later(role_name):
    """Tables a later migration creates (as the owner) are granted by default."""
    app_role_sync(username=role_name, password=PASSWORD)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE db_app_role_later (id int)")
    try:
        with connect_as(role_name) as conn:
            conn.execute("INSERT INTO db_app_role_later VALUES (1)")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE db_app_role_later")


def test_app_role_sync_rotated_clone_inherits_the_base_role(role_name):
    """After a rotation the secret names <role>_clone: a LOGIN member of <role>."""
    app_role_sync(username=role_name, password=PASSWORD)
    assert app_role_sync(username=role_name + "_clone", password=PASSWORD) == role_name
    with connect_as(role_name + "_clone") as conn:
        conn.execute("SELECT count(*) FROM django_migrations").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE db_app_role_probe (id int)")
    # The base role keeps its login: tasks started before the rotation use it.
    with connect_as(role_name) as conn:
        conn.execute("SELECT 1").fetchone()


def test_app_role_sync_is_idempotent(role_name):
    """Running it again (every migrate) changes nothing and fails nothing."""
    app_role_sync(username=role_name, password=PASSWORD)
    app_role_sync(username=role_name, password=PASSWORD)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin "
            "FROM pg_roles WHERE rolname = %s",
            [role_name],
        )
        assert cursor.fetchone() == (False, False, False, True)


def test_app_role_sync_without_password_is_refused(role_name):
    """A secret without a password creates nothing."""
    with pytest.raises(ValueError, match="password"):
        app_role_sync(username=role_name, password="")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role_name])
        assert cursor.fetchone() is None


def test_db_app_role_command_reads_the_secret(moto_server, settings, role_name):
    """The command takes username and password from DATABASE_APP_SECRET_ARN."""
    client = boto3.client("secretsmanager", endpoint_url=moto_server)
    arn = client.create_secret(
        Name=f"quire-test/{role_name}",
        SecretString=json.dumps({"username": role_name, "password": PASSWORD}),
    )["ARN"]
    settings.DATABASE_APP_SECRET_ARN = arn
    call_command("db_app_role")
    with connect_as(role_name) as conn:
        conn.execute("SELECT count(*) FROM django_migrations").fetchone()


def test_db_app_role_command_without_secret_names_the_variable(settings):
    """No DATABASE_APP_SECRET_ARN: a clear error, nothing done."""
    settings.DATABASE_APP_SECRET_ARN = ""
    with pytest.raises(CommandError, match="DATABASE_APP_SECRET_ARN"):
        call_command("db_app_role")


def test_db_app_role_command_non_json_secret_is_refused(moto_server, settings):
    """A secret that is not a JSON object is refused without showing it."""
    client = boto3.client("secretsmanager", endpoint_url=moto_server)
    arn = client.create_secret(
        Name=f"quire-test/plain-{uuid.uuid4().hex[:8]}", SecretString="hunter2"
    )["ARN"]
    settings.DATABASE_APP_SECRET_ARN = arn
    with pytest.raises(CommandError, match="not JSON") as raised:
        call_command("db_app_role")
    assert "hunter2" not in str(raised.value)

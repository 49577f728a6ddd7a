"""Start-up configuration: Secrets Manager (moto), production checks, migrations."""

import http.server
import json
import os
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from project import secrets as project_secrets
from project.runtime import ecs_private_ips
from project.tests.loopback import serving

BASE_DIR = Path(__file__).resolve().parents[2]
DB_PASSWORD = "s3cr3t-db-password-value"


@pytest.fixture
def secretsmanager(moto_server):
    """Return a boto3 Secrets Manager client on moto, with a fresh adapter."""
    project_secrets.cache_clear()
    yield boto3.client("secretsmanager", endpoint_url=moto_server)
    project_secrets.cache_clear()


def _secret(client, value: str | dict) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    name = f"quire/test/{uuid.uuid4().hex}"
    return client.create_secret(Name=name, SecretString=text)["ARN"]


RDS_SECRET = {
    "engine": "postgres",
    "username": "quire_app",
    "password": DB_PASSWORD,
    "host": "quire.cluster-abc.eu-west-1.rds.amazonaws.com",
    "port": 5432,
    "dbname": "quire",
}


def test_database_from_secret_rds_json_gives_postgres_settings(secretsmanager):
    """An RDS JSON secret becomes a PostgreSQL DATABASES entry."""
    arn = _secret(secretsmanager, RDS_SECRET)
    assert project_secrets.database_from_secret(arn) == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "quire",
        "USER": "quire_app",
        "PASSWORD": DB_PASSWORD,
        "HOST": "quire.cluster-abc.eu-west-1.rds.amazonaws.com",
        "PORT": "5432",
    }


def test_database_from_secret_credentials_only_uses_defaults(secretsmanager):
    """An RDS-managed secret with only credentials takes host/port/dbname from env."""
    arn = _secret(secretsmanager, {"username": "u", "password": DB_PASSWORD})
    entry = project_secrets.database_from_secret(
        arn, defaults={"host": "db.internal", "port": "5433", "dbname": "q"}
    )
    assert (entry["HOST"], entry["PORT"], entry["NAME"]) == ("db.internal", "5433", "q")


def test_database_from_secret_missing_keys_named_not_values(secretsmanager):
    """A secret lacking keys fails naming the keys, never the values it has."""
    arn = _secret(secretsmanager, {"username": "u", "password": DB_PASSWORD})
    with pytest.raises(project_secrets.SecretError) as caught:
        project_secrets.database_from_secret(arn)
    message = str(caught.value)
    assert "DATABASE_SECRET_ARN" in message
    assert "host, dbname" in message
    assert DB_PASSWORD not in message


def test_database_from_secret_unknown_arn_names_variable_and_arn(secretsmanager):
    """A secret that does not exist fails naming the variable and the ARN."""
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:quire/missing-AbCdEf"
    with pytest.raises(project_secrets.SecretError) as caught:
        project_secrets.database_from_secret(arn)
    assert str(caught.value) == (
        f"DATABASE_SECRET_ARN: cannot read secret {arn!r} from Secrets Manager "
        "(ResourceNotFoundException)."
    )


def test_database_from_secret_not_json_refused(secretsmanager):
    """A plain-string database secret is refused with a clear message."""
    arn = _secret(secretsmanager, "just-a-password")
    with pytest.raises(project_secrets.SecretError, match="is not a JSON object"):
        project_secrets.database_from_secret(arn)


@pytest.mark.parametrize(
    "value", ["k" * 60, {"secret_key": "k" * 60}, {"SECRET_KEY": "k" * 60}]
)
def test_secret_key_from_secret_plain_or_json(secretsmanager, value):
    """The secret key may be stored as a plain string or as JSON."""
    arn = _secret(secretsmanager, value)
    assert project_secrets.secret_key_from_secret(arn) == "k" * 60


def test_secret_key_from_secret_empty_refused(secretsmanager):
    """An empty secret key secret is refused, naming the variable."""
    arn = _secret(secretsmanager, {"other": "x"})
    with pytest.raises(
        project_secrets.SecretError, match="DJANGO_SECRET_KEY_SECRET_ARN"
    ):
        project_secrets.secret_key_from_secret(arn)


def test_ttl_secret_still_reads_current_value(secretsmanager):
    """TTLSecret (used by the AI providers) keeps working through the adapter."""
    arn = _secret(secretsmanager, "provider-key-1")
    assert project_secrets.TTLSecret(arn, ttl=60).get() == "provider-key-1"


# --- ECS task metadata -----------------------------------------------------------


@pytest.fixture
def ecs_metadata() -> Iterator[str]:
    """A loopback stand-in for the ECS task metadata endpoint (v4)."""
    body = json.dumps(
        {
            "DockerId": "abc",
            "Networks": [
                {"NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.12.34"]},
            ],
        }
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    with serving(Handler) as url:
        yield f"{url}/v4/abc"


def test_ecs_private_ips_reads_task_address(ecs_metadata):
    """The task's private IPv4 address comes from the metadata endpoint."""
    assert ecs_private_ips(ecs_metadata) == ["10.0.12.34"]


def test_ecs_private_ips_unreachable_returns_nothing():
    """Outside ECS (or if the endpoint is down) no address is added, quickly."""
    with socket_closed_port() as url:
        assert ecs_private_ips(url, timeout=0.5) == []
    assert ecs_private_ips("") == []


class socket_closed_port:  # noqa: N801 - used as a context manager
    """A loopback URL on a port nothing listens on."""

    def __enter__(self) -> str:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        return f"http://127.0.0.1:{self.port}/v4"

    def __exit__(self, *exc) -> None:
        return None


# --- Production settings in a fresh process ----------------------------------------


def _run(code_or_args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, *code_or_args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _production_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "ECS_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings.production",
            "DJANGO_ALLOWED_HOSTS": "api.quire.test",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://api.quire.test",
            "METRICS_ENABLED": "false",
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def production_secrets(secretsmanager) -> dict[str, str]:
    """Secrets for a production start: RDS JSON and a secret key."""
    return {
        "DATABASE_SECRET_ARN": _secret(secretsmanager, RDS_SECRET),
        "DJANGO_SECRET_KEY_SECRET_ARN": _secret(
            secretsmanager, secrets.token_urlsafe(50)
        ),
    }


SHOW_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "d = s.DATABASES['default']; print(json.dumps({'hosts': s.ALLOWED_HOSTS, "
    "'db': [d['ENGINE'], d['HOST'], d['NAME'], d['CONN_MAX_AGE'], "
    "d['CONN_HEALTH_CHECKS'], d['OPTIONS']], 'key_len': len(s.SECRET_KEY), "
    "'email': s.EMAIL_BACKEND, 'metrics': s.METRICS_ENABLED}))"
)


@pytest.mark.slow
def test_production_settings_read_secrets_and_task_ip(production_secrets, ecs_metadata):
    """Production start-up reads both secrets once and adds the task's IP."""
    env = _production_env(
        **production_secrets, ECS_CONTAINER_METADATA_URI_V4=ecs_metadata
    )
    result = _run(["-c", SHOW_SETTINGS], env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown == {
        "hosts": ["api.quire.test", "10.0.12.34"],
        "db": [
            "django.db.backends.postgresql",
            RDS_SECRET["host"],
            "quire",
            60,
            True,
            {
                "connect_timeout": 5,
                "server_side_binding": True,
                "prepare_threshold": 5,
            },
        ],
        "key_len": shown["key_len"],
        "email": "django_ses.SESBackend",
        "metrics": False,
    }
    assert shown["key_len"] >= 50
    assert DB_PASSWORD not in result.stdout + result.stderr


@pytest.mark.slow
def test_production_check_deploy_no_warnings(production_secrets):
    """`manage.py check --deploy` with production settings reports no warning.

    drf-spectacular's schema-quality checks (``drf_spectacular.W*``) belong to
    the OpenAPI work and are tested there; every other check must be silent.
    """
    env = _production_env(**production_secrets)
    result = _run(["manage.py", "check", "--deploy"], env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    issues = re.findall(r"\(([a-z_.]+\.[WEC]\d+)\)", output)
    assert [issue for issue in issues if not issue.startswith("drf_spectacular.")] == []
    if not issues:
        # security.W001-W003 only: project/checks.py re-runs them (and the
        # checks gated on them) with the async-native middleware mapped to
        # Django's originals.
        assert "System check identified no issues (3 silenced)." in output


@pytest.mark.slow
def test_production_missing_database_secret_stops_naming_it(secretsmanager):
    """A missing database secret stops start-up, naming the variable and ARN."""
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:quire/nope-AbCdEf"
    env = _production_env(
        DATABASE_SECRET_ARN=arn, DJANGO_SECRET_KEY=secrets.token_urlsafe(50)
    )
    result = _run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "DATABASE_SECRET_ARN: cannot read secret" in result.stderr
    assert arn in result.stderr


@pytest.mark.slow
def test_production_without_secret_key_refuses_to_start():
    """Production without any secret key stops with a message naming the variables."""
    result = _run(["manage.py", "check"], _production_env())
    assert result.returncode != 0
    assert "Set DJANGO_SECRET_KEY_SECRET_ARN (or DJANGO_SECRET_KEY)" in result.stderr


# --- REQUIRE_MIGRATED -----------------------------------------------------------


def _local_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "ECS_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings.local",
            "QUIRE_VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        }
    )
    env.update(extra)
    return env


@pytest.mark.slow
def test_require_migrated_unmigrated_database_refuses_to_serve(tmp_path):
    """With REQUIRE_MIGRATED=1 the app will not load until migrations are applied."""
    env = _local_env(tmp_path, REQUIRE_MIGRATED="1")
    result = _run(["-c", "import project.wsgi"], env)
    assert result.returncode != 0
    assert "unapplied migrations" in result.stderr
    assert "accounts.0001_initial" in result.stderr


@pytest.mark.slow
def test_require_migrated_after_migrate_serves(tmp_path):
    """After the one-off migrate, the same start-up succeeds."""
    env = _local_env(tmp_path, REQUIRE_MIGRATED="1")
    migrate = _run(["manage.py", "migrate", "--noinput", "-v0"], env)
    assert migrate.returncode == 0, migrate.stderr
    result = _run(["-c", "import project.wsgi, project.asgi"], env)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_require_migrated_off_by_default_serves_unmigrated(tmp_path):
    """Without REQUIRE_MIGRATED the app loads (migrations are a separate step)."""
    result = _run(["-c", "import project.wsgi"], _local_env(tmp_path))
    assert result.returncode == 0, result.stderr


def _database_settings(**extra: str) -> dict:
    env = _production_env(
        DJANGO_SETTINGS_MODULE="project.settings.local",
        DATABASE_URL="postgres://quire@db.quire.test:5432/quire",
        **extra,
    )
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "d = settings.DATABASES['default']; print(json.dumps({"
        "'max_age': d['CONN_MAX_AGE'], 'checks': d['CONN_HEALTH_CHECKS'], "
        "'options': d['OPTIONS']}))"
    )
    result = _run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_database_prepared_statements_off_binds_on_the_client():
    """``DATABASE_PREPARED_STATEMENTS=false`` leaves Django's client-side binding."""
    shown = _database_settings(DATABASE_PREPARED_STATEMENTS="false")
    assert shown["options"] == {"connect_timeout": 5}

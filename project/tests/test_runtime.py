"""Start-up checks of a serving process: the token issuer must be complete."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

import pytest

from accounts.tokens import get_validator_cache_clear
from project.runtime import check_identity

BASE_DIR = Path(__file__).resolve().parents[2]
COGNITO = {
    "COGNITO_AWS_REGION": "eu-west-1",
    "COGNITO_USER_POOL": "eu-west-1_Runtime",
    "COGNITO_AUDIENCE": ["runtime-client"],
}


@pytest.fixture
def cognito(settings):
    """Settings as in production: Cognito only, every required value set."""
    get_validator_cache_clear()
    settings.LOCAL_ISSUER_ENABLED = False
    for name, value in COGNITO.items():
        setattr(settings, name, value)
    yield settings
    get_validator_cache_clear()


def test_check_identity_complete_cognito_passes(cognito):
    """With region, pool and audience set, the process may serve."""
    check_identity()


@pytest.mark.parametrize("missing", sorted(COGNITO))
def test_check_identity_missing_setting_refuses_naming_it(cognito, missing, caplog):
    """One empty Cognito setting stops the start, naming it in error and log."""
    setattr(cognito, missing, [] if missing == "COGNITO_AUDIENCE" else "")
    with pytest.raises(ImproperlyConfigured, match=missing):
        check_identity()
    assert any(
        record.levelname == "CRITICAL" and missing in record.getMessage()
        for record in caplog.records
    )


def test_check_identity_local_issuer_needs_no_cognito(settings):
    """`make run` and the tests (local issuer, no pool) start without Cognito."""
    get_validator_cache_clear()
    settings.LOCAL_ISSUER_ENABLED = True
    settings.COGNITO_USER_POOL = ""
    check_identity()
    get_validator_cache_clear()


def _import_entry_point(module: str, tmp_path: Path, **extra: str):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "ECS_", "COGNITO_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "api.quire.test",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "QUIRE_VAR_DIR": str(tmp_path),
            "METRICS_ENABLED": "false",
            **extra,
        }
    )
    return subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, "-c", f"import {module}"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("module", ["project.wsgi", "project.asgi"])
def test_production_entry_point_without_pool_refuses_to_load(module, tmp_path):
    """Production with COGNITO_USER_POOL unset: the worker's app will not load."""
    result = _import_entry_point(
        module,
        tmp_path,
        COGNITO_AWS_REGION="eu-west-1",
        COGNITO_AUDIENCE="runtime-client",
    )
    assert result.returncode != 0
    assert "Cognito sign-in needs COGNITO_USER_POOL" in result.stderr


@pytest.mark.slow
def test_production_entry_point_with_cognito_loads(tmp_path):
    """With the three Cognito settings, production's app loads."""
    result = _import_entry_point(
        "project.wsgi",
        tmp_path,
        COGNITO_AWS_REGION="eu-west-1",
        COGNITO_USER_POOL="eu-west-1_Runtime",
        COGNITO_AUDIENCE="runtime-client",
    )
    assert result.returncode == 0, result.stderr

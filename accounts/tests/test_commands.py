"""``issue_dev_token``, ``dev_bootstrap`` and the local JWKS route."""

import io
import re

from django.core.management import CommandError, call_command

import jwt
import pytest
from rest_framework.test import APIClient

from accounts import local_issuer
from accounts.models import User

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _get_me(token: str):
    return APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_issue_dev_token_access_token_authenticates():
    """The minted access token passes the validator and maps to the new user."""
    token = _run("issue_dev_token", "--email", "dev@example.com").strip()
    response = _get_me(token)
    assert response.status_code == 200
    assert response.json()["email"] == "dev@example.com"
    assert User.objects.get(email="dev@example.com").sub == (
        local_issuer.sub_for_email("dev@example.com")
    )


def test_issue_dev_token_staff_id_token_makes_staff():
    """``--staff --id-token`` mints an ID token that makes the user staff."""
    token = _run(
        "issue_dev_token", "--email", "boss@example.com", "--staff", "--id-token"
    ).strip()
    response = _get_me(token)
    assert response.status_code == 200
    assert response.json()["is_staff"] is True


def test_issue_dev_token_ttl_sets_lifetime():
    """``--ttl`` sets exp - iat."""
    token = _run("issue_dev_token", "--email", "t@example.com", "--ttl", "90").strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 90
    assert claims["token_use"] == "access"


def test_issue_dev_token_short_ttl_expires(settings):
    """``--ttl`` sets the lifetime: past it (plus leeway) the token is refused."""
    settings.COGNITO_LEEWAY_SECONDS = 0
    token = local_issuer.issue_token(sub="x", ttl=1, issued_at=1_000_000)
    response = _get_me(token)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_issue_dev_token_with_cognito_configured_refuses(settings):
    """The local issuer is off when a user pool is configured."""
    settings.COGNITO_USER_POOL = "us-east-1_abc"
    with pytest.raises(CommandError, match="local issuer is disabled"):
        _run("issue_dev_token", "--email", "dev@example.com")


def test_issue_dev_token_bad_email_refuses():
    """A malformed address is refused."""
    with pytest.raises(CommandError, match="Not an email"):
        _run("issue_dev_token", "--email", "nope")


def test_dev_bootstrap_prints_working_token_and_curl():
    """dev_bootstrap prints ``TOKEN=``, a curl line and the admin sign-in."""
    out = _run("dev_bootstrap")
    token = re.search(r"^TOKEN=([A-Za-z0-9._-]+)$", out, re.MULTILINE).group(1)
    assert f'curl -H "Authorization: Bearer {token}" ' in out
    assert "/api/v1/me" in out
    assert "Admin: " in out
    response = _get_me(token)
    assert response.status_code == 200
    assert response.json()["email"] == "demo@example.com"
    assert User.objects.get(email="admin@example.com").is_staff is True


def test_dev_bootstrap_twice_keeps_one_row_per_account():
    """Running dev_bootstrap again reuses the demo accounts."""
    _run("dev_bootstrap")
    _run("dev_bootstrap")
    assert User.objects.filter(email="demo@example.com").count() == 1
    assert User.objects.filter(email="admin@example.com").count() == 1


def test_jwks_route_serves_local_key():
    """The local issuer's JWKS lists its RSA signing key."""
    response = APIClient().get("/.well-known/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    assert key["kid"] == local_issuer.signing_key()[1]
    assert "d" not in key  # never the private part


def test_jwks_route_with_cognito_configured_returns_404(settings):
    """With Cognito as the issuer there is no local JWKS."""
    settings.COGNITO_USER_POOL = "us-east-1_abc"
    assert APIClient().get("/.well-known/jwks.json").status_code == 404


def test_local_issuer_key_created_under_configured_path(settings, tmp_path):
    """The key is generated on first use, readable by the owner only."""
    settings.LOCAL_ISSUER_KEY_PATH = str(tmp_path / "k" / "key.pem")
    local_issuer.signing_key()
    path = tmp_path / "k" / "key.pem"
    assert path.exists()
    assert path.stat().st_mode & 0o077 == 0

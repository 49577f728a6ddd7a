"""Staff sign-in to the admin through an OIDC provider on loopback (Cognito-like)."""

import http.client
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

from django.contrib.auth import get_user_model

import pytest

from accounts.tests.factories import UserFactory
from project.tests.oidc_provider import OIDCProvider

pytestmark = pytest.mark.django_db

CLIENT_ID = "admin-client-id"
CLIENT_SECRET = "admin-client-secret-value"


@pytest.fixture
def provider() -> Iterator[OIDCProvider]:
    """Run the OIDC provider on loopback for one test."""
    running = OIDCProvider(CLIENT_ID, CLIENT_SECRET).start()
    yield running
    running.stop()


@pytest.fixture
def oidc_admin(settings, provider) -> OIDCProvider:
    """Configure the admin sign-in against ``provider`` as production would."""
    settings.ADMIN_OIDC_ENABLED = True
    settings.AUTHENTICATION_BACKENDS = ["project.oidc.StaffOIDCBackend"]
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{provider.url}/oauth2/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{provider.url}/oauth2/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{provider.url}/oauth2/userInfo"
    settings.OIDC_OP_ISSUER = provider.issuer
    settings.OIDC_OP_JWKS_ENDPOINT = f"{provider.issuer}/.well-known/jwks.json"
    settings.COGNITO_STAFF_GROUP = "staff"
    return provider


def _hosted_ui(url: str) -> str:
    """Visit the provider's authorize URL as a browser would; return the redirect."""
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=5)
    connection.request("GET", f"{parsed.path}?{parsed.query}")
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 302, response.status
    return response.getheader("Location")


def _sign_in(client, provider: OIDCProvider, claims: dict) -> tuple:
    """Walk the code flow from /admin/login/ to the callback; return responses."""
    provider.signed_in = claims
    start = client.get("/admin/login/?next=/admin/")
    assert start.status_code == 302
    init = client.get(start["Location"])
    assert init.status_code == 302
    authorize_url = init["Location"]
    callback_url = _hosted_ui(authorize_url)
    callback = client.get(callback_url.removeprefix("http://testserver"))
    return authorize_url, callback


STAFF = {
    "sub": "7f0c-staff-sub",
    "email": "ops@quire.test",
    "email_verified": True,
    "cognito:groups": ["staff"],
}


def test_admin_login_oidc_sends_browser_to_provider_with_pkce(client, oidc_admin):
    """/admin/login/ leads to the provider's authorize URL with S256 PKCE."""
    start = client.get("/admin/login/?next=/admin/")
    assert start.status_code == 302
    assert start["Location"] == "/oidc/authenticate/?next=%2Fadmin%2F"
    init = client.get(start["Location"])
    assert init.status_code == 302
    url = urlparse(init["Location"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == (
        f"{oidc_admin.url}/oauth2/authorize"
    )
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["state"]
    assert query["nonce"]
    assert query["redirect_uri"] == "http://testserver/oidc/callback/"


def test_admin_oidc_staff_group_member_signs_in_as_staff(client, oidc_admin):
    """A member of the staff group signs in and reaches the admin as staff."""
    _authorize, callback = _sign_in(client, oidc_admin, STAFF)
    assert callback.status_code == 302
    assert callback["Location"] == "/admin/"
    user = get_user_model().objects.get(sub=STAFF["sub"])
    assert user.email == "ops@quire.test"
    assert user.is_staff is True
    assert user.is_email_verified is True
    assert not user.has_usable_password()
    index = client.get("/admin/")
    assert index.status_code == 200
    # The token request proved possession of the PKCE verifier.
    (token_request,) = oidc_admin.token_requests
    assert len(token_request["code_verifier"]) >= 43
    assert "client_secret" not in token_request


def test_admin_oidc_existing_user_linked_and_made_staff(client, oidc_admin):
    """An existing account with that email (no sub yet) is linked, not duplicated."""
    existing = UserFactory(email="ops@quire.test", sub=None, is_staff=False)
    _authorize, callback = _sign_in(client, oidc_admin, STAFF)
    assert callback["Location"] == "/admin/"
    existing.refresh_from_db()
    assert existing.sub == STAFF["sub"]
    assert existing.is_staff is True
    assert get_user_model().objects.filter(email__iexact="ops@quire.test").count() == 1


def test_admin_oidc_not_in_staff_group_refused(client, oidc_admin):
    """Someone outside the staff group is not signed in and sees a refusal."""
    claims = {**STAFF, "cognito:groups": ["writers"]}
    _authorize, callback = _sign_in(client, oidc_admin, claims)
    assert callback.status_code == 302
    assert callback["Location"] == "/admin/login/?failed=1"
    refused = client.get(callback["Location"])
    assert refused.status_code == 403
    assert b"could not be signed in" in refused.content
    assert client.get("/admin/").status_code == 302
    assert not get_user_model().objects.filter(sub=STAFF["sub"]).exists()


def test_admin_oidc_staff_removed_from_group_loses_staff(client, oidc_admin):
    """A former staff member who left the group is refused and loses staff."""
    former = UserFactory(sub=STAFF["sub"], email=STAFF["email"], is_staff=True)
    claims = {**STAFF, "cognito:groups": []}
    _authorize, callback = _sign_in(client, oidc_admin, claims)
    assert callback["Location"] == "/admin/login/?failed=1"
    former.refresh_from_db()
    assert former.is_staff is False
    assert client.get("/admin/").status_code == 302


def test_admin_oidc_inactive_user_refused(client, oidc_admin):
    """An account made inactive in the admin cannot sign in through Cognito."""
    UserFactory(sub=STAFF["sub"], email=STAFF["email"], is_staff=True, is_active=False)
    _authorize, callback = _sign_in(client, oidc_admin, STAFF)
    assert callback["Location"] == "/admin/login/?failed=1"
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    "override",
    [
        {"aud": "another-client"},
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/other-pool"},
        {"exp": 1000},
        {"token_use": "access"},
    ],
)
def test_admin_oidc_bad_id_token_refused(client, oidc_admin, override):
    """ID tokens for another client or pool, expired, or not ID tokens, are refused."""
    oidc_admin.id_token_overrides = override
    _authorize, callback = _sign_in(client, oidc_admin, STAFF)
    assert callback.status_code in (302, 400)
    if callback.status_code == 302:
        assert callback["Location"] == "/admin/login/?failed=1"
    assert client.get("/admin/").status_code == 302
    assert not get_user_model().objects.filter(sub=STAFF["sub"]).exists()


def test_admin_oidc_password_sign_in_refused(client, oidc_admin):
    """With Cognito configured, a correct Django password does not sign anyone in."""
    UserFactory(email="pw@quire.test", is_staff=True, password="a-good-password-1")
    assert client.login(email="pw@quire.test", password="a-good-password-1") is False
    response = client.post(
        "/admin/login/", {"username": "pw@quire.test", "password": "a-good-password-1"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/oidc/authenticate/")
    assert client.get("/admin/").status_code == 302


def test_admin_login_without_cognito_uses_password_form(client):
    """Without Cognito settings the admin keeps Django's password sign-in."""
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b'name="password"' in response.content

"""End-user sign-in through a Cognito-like user pool on loopback (code + PKCE, public client)."""

import base64
import hashlib
import http.client
import json
import secrets
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

from django.test import Client

import jwt
import pytest

from accounts.adapters import cognito
from accounts.models import User
from project.tests.oidc_provider import OIDCProvider

pytestmark = pytest.mark.django_db

WEB_CLIENT = "web-public-client"
PERSON = {"sub": "b7e1-web-sub", "email": "writer@quire.test", "email_verified": True}


REGION, POOL = "us-east-1", "us-east-1_TestPool"
COGNITO_ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


class PublicClientProvider(OIDCProvider):
    """The loopback provider as the user pool of a public app client.

    No secret, PKCE only; it signs ID and access tokens with the pool's key
    and issuer, the access token carrying the granted scopes, as Cognito's
    hosted UI does. It also answers the user-pool API's ``GetUser`` the way
    Cognito answers a hosted-UI token without
    ``aws.cognito.signin.user.admin``: refused (each call is recorded).
    """

    def __init__(self, client_id: str, client_secret: str) -> None:  # noqa: D107
        super().__init__(client_id, client_secret)
        self.issuer = COGNITO_ISSUER
        self.get_user_requests: list[str] = []

    def access_token(self, claims: dict, scope: str) -> str:
        """Return an access token of the pool for ``claims`` with ``scope``."""
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "sub": claims["sub"],
            "token_use": "access",
            "client_id": self.client_id,
            "username": claims["sub"],
            "scope": scope,
            "auth_time": now,
            "iat": now,
            "exp": now + 3600,
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(
            payload, self.key, algorithm="RS256", headers={"kid": self.kid}
        )

    def _handler(self) -> type:
        provider = self
        base = super()._handler()

        class Handler(base):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                if urlparse(self.path).path == "/":
                    return self._user_pool_api(body)
                form = {k: v[0] for k, v in parse_qs(body).items()}
                provider.token_requests.append(form)
                if "Authorization" in self.headers or form.get("client_secret"):
                    return self._json(400, {"error": "invalid_client"})
                if form.get("client_id") != provider.client_id:
                    return self._json(400, {"error": "invalid_client"})
                grant = provider.codes.pop(form.get("code", ""), None)
                if grant is None or form.get("grant_type") != "authorization_code":
                    return self._json(400, {"error": "invalid_grant"})
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                if (
                    base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                    != (grant["challenge"])
                ):
                    return self._json(400, {"error": "invalid_grant"})
                claims = grant["claims"]
                return self._json(
                    200,
                    {
                        "id_token": provider.id_token(claims, grant["nonce"]),
                        "access_token": provider.access_token(claims, grant["scope"]),
                        "refresh_token": "refresh-" + claims["sub"],
                        "token_type": "Bearer",
                        "expires_in": 3600,
                    },
                )

            def _user_pool_api(self, body: str) -> None:
                target = self.headers.get("X-Amz-Target", "")
                provider.get_user_requests.append(target)
                data = json.dumps(
                    {
                        "__type": "NotAuthorizedException",
                        "message": "Access Token does not have required scopes",
                    }
                ).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def provider(settings, monkeypatch) -> Iterator[PublicClientProvider]:
    """Run the pool on loopback; the app uses it as production uses Cognito."""
    running = PublicClientProvider(WEB_CLIENT, "").start()
    jwks = f"{running.url}/{POOL}/.well-known/jwks.json"
    settings.COGNITO_DOMAIN = running.url
    settings.COGNITO_WEB_CLIENT_ID = WEB_CLIENT
    settings.COGNITO_AWS_REGION = REGION
    settings.COGNITO_USER_POOL = POOL
    settings.COGNITO_AUDIENCE = [WEB_CLIENT]
    settings.COGNITO_JWKS_URL = jwks
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{running.url}/oauth2/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{running.url}/oauth2/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{running.url}/oauth2/userInfo"
    settings.OIDC_OP_ISSUER = running.issuer
    settings.OIDC_OP_JWKS_ENDPOINT = jwks
    for name, value in {**AWS_ENV, "AWS_ENDPOINT_URL": running.url}.items():
        monkeypatch.setenv(name, value)
    cognito.client.cache_clear()
    yield running
    running.stop()
    cognito.client.cache_clear()


def hosted_ui(url: str) -> str:
    """Visit the authorize URL as the browser would; return where it redirects."""
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=5)
    connection.request("GET", f"{parsed.path}?{parsed.query}")
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 302, response.status
    return response.getheader("Location")


def signed_in_through_hosted_ui(provider, person: dict) -> Client:
    """Return a client that signed in as ``person`` through the hosted UI."""
    provider.signed_in = person
    browser = Client()
    start = browser.get("/auth/login")
    browser.get(hosted_ui(start["Location"]).removeprefix("http://testserver"))
    return browser


def test_web_sign_in_start_sends_to_hosted_ui_with_pkce(provider):
    """A visitor goes to the hosted UI as the public client, with S256 PKCE."""
    browser = Client()
    assert browser.get("/")["Location"] == "/auth/login"

    start = browser.get("/auth/login")

    query = {k: v[0] for k, v in parse_qs(urlparse(start["Location"]).query).items()}
    assert start["Location"].startswith(f"{provider.url}/oauth2/authorize?")
    assert query["client_id"] == WEB_CLIENT
    assert query["scope"].split() == ["openid", "email", "profile"]
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == "http://testserver/auth/callback"
    assert query["state"]
    assert query["nonce"]


def test_web_sign_in_code_flow_opens_a_session_the_api_accepts(provider):
    """The callback exchanges the code (no secret); the session then reads the API."""
    provider.signed_in = PERSON
    browser = Client()
    start = browser.get("/auth/login")
    callback = browser.get(
        hosted_ui(start["Location"]).removeprefix("http://testserver")
    )

    assert callback.status_code == 302
    assert callback["Location"] == "/"
    request = provider.token_requests[-1]
    assert "client_secret" not in request
    assert request["code_verifier"]
    assert provider.authorize_requests[-1]["scope"] == "openid email profile"
    me = browser.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["id"] == str(User.objects.get(sub=PERSON["sub"]).pk)
    page = browser.get("/")
    assert page.status_code == 200
    assert "refresh-" not in page.content.decode()
    assert "eyJ" not in page.content.decode()  # no token in the page


def test_web_sign_in_takes_verified_email_from_id_token(provider):
    """The ID token's verified email is the user's; Cognito's GetUser is not called."""
    browser = signed_in_through_hosted_ui(provider, PERSON)

    me = browser.get("/api/v1/me")

    assert me.status_code == 200
    assert me.json()["email"] == PERSON["email"]
    assert me.json()["is_email_verified"] is True
    assert provider.get_user_requests == []


def test_web_session_without_verified_email_never_calls_get_user(provider, settings):
    """A hosted-UI token cannot call GetUser, so the session never tries to."""
    settings.ACCOUNTS_LAST_SEEN_INTERVAL_SECONDS = 0  # every request is "due"
    browser = signed_in_through_hosted_ui(provider, {**PERSON, "email_verified": False})

    answers = [browser.get("/api/v1/me") for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[-1].json()["email"] is None
    assert provider.get_user_requests == []


def test_web_sign_in_scope_the_client_does_not_allow_refused(provider):
    """The provider, like Cognito, refuses a scope outside the client's; no session."""
    provider.signed_in = PERSON
    browser = Client()
    start = browser.get("/auth/login")
    url = start["Location"].replace(
        "scope=openid+email+profile",
        "scope=openid+email+profile+aws.cognito.signin.user.admin",
    )
    assert url != start["Location"]

    refused = hosted_ui(url)
    callback = browser.get(refused.removeprefix("http://testserver"))

    assert "error=invalid_scope" in refused
    assert callback.status_code == 400
    assert b"Sign-in did not work" in callback.content
    assert browser.get("/api/v1/me").status_code == 401
    assert not User.objects.filter(sub=PERSON["sub"]).exists()


def test_web_sign_in_callback_replayed_state_refused(provider):
    """A callback whose state was already used (or never issued) signs nobody in."""
    provider.signed_in = PERSON
    browser = Client()
    start = browser.get("/auth/login")
    callback_url = hosted_ui(start["Location"]).removeprefix("http://testserver")
    assert browser.get(callback_url).status_code == 302
    browser.post("/signout", {})  # CSRF is not enforced by the test client

    replay = browser.get(callback_url)

    assert replay.status_code == 400
    assert browser.get("/api/v1/me").status_code == 401


def test_web_sign_in_callback_error_from_provider_refused(provider):
    """The hosted UI's error answer shows the failure page."""
    browser = Client()
    start = browser.get("/auth/login")
    state = parse_qs(urlparse(start["Location"]).query)["state"][0]

    response = browser.get(f"/auth/callback?error=access_denied&state={state}")

    assert response.status_code == 400
    assert b"Sign-in did not work" in response.content


def test_web_sign_out_goes_through_cognito_logout(provider):
    """Signing out ends the session and passes through the hosted UI's logout."""
    browser = signed_in_through_hosted_ui(provider, PERSON)

    response = browser.post("/signout")

    assert response["Location"].startswith(
        f"{provider.url}/logout?client_id={WEB_CLIENT}"
    )
    assert browser.get("/api/v1/me").status_code == 401


def test_web_oidc_pages_absent_when_not_configured():
    """Without the hosted UI settings, its routes do not exist."""
    assert Client().get("/auth/login").status_code == 404
    assert json.loads(Client().get("/api/v1/me").content)["code"] == "not_authenticated"

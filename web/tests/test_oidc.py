"""End-user sign-in through a Cognito-like hosted UI on loopback (code + PKCE, public client)."""

import base64
import hashlib
import http.client
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

from django.test import Client

import pytest

from accounts.models import User
from project.tests.oidc_provider import OIDCProvider

pytestmark = pytest.mark.django_db

WEB_CLIENT = "web-public-client"
PERSON = {"sub": "b7e1-web-sub", "email": "writer@quire.test", "email_verified": True}


class PublicClientProvider(OIDCProvider):
    """The loopback provider, for a public app client: no secret, PKCE only.

    Its access tokens are signed by the local issuer, which the API's
    validator trusts in tests (Cognito's are checked the same way, against
    the pool's keys).
    """

    def _handler(self) -> type:
        provider = self
        base = super()._handler()

        class Handler(base):
            def do_POST(self) -> None:  # noqa: N802
                from accounts import local_issuer

                length = int(self.headers.get("Content-Length", "0"))
                form = {
                    k: v[0]
                    for k, v in parse_qs(self.rfile.read(length).decode()).items()
                }
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
                        "access_token": local_issuer.issue_token(
                            sub=claims["sub"], email=claims["email"]
                        ),
                        "refresh_token": "refresh-" + claims["sub"],
                        "token_type": "Bearer",
                        "expires_in": 3600,
                    },
                )

        return Handler


@pytest.fixture
def provider(settings) -> Iterator[PublicClientProvider]:
    running = PublicClientProvider(WEB_CLIENT, "").start()
    settings.COGNITO_DOMAIN = running.url
    settings.COGNITO_WEB_CLIENT_ID = WEB_CLIENT
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{running.url}/oauth2/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{running.url}/oauth2/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{running.url}/oauth2/userInfo"
    settings.OIDC_OP_ISSUER = running.issuer
    settings.OIDC_OP_JWKS_ENDPOINT = f"{running.issuer}/.well-known/jwks.json"
    yield running
    running.stop()


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


def test_web_sign_in_start_sends_to_hosted_ui_with_pkce(provider):
    """A visitor goes to the hosted UI as the public client, with S256 PKCE."""
    browser = Client()
    assert browser.get("/")["Location"] == "/auth/login"

    start = browser.get("/auth/login")

    query = {k: v[0] for k, v in parse_qs(urlparse(start["Location"]).query).items()}
    assert start["Location"].startswith(f"{provider.url}/oauth2/authorize?")
    assert query["client_id"] == WEB_CLIENT
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
    me = browser.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["id"] == str(User.objects.get(sub=PERSON["sub"]).pk)
    page = browser.get("/")
    assert page.status_code == 200
    assert "refresh-" not in page.content.decode()
    assert "eyJ" not in page.content.decode()  # no token in the page


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
    provider.signed_in = PERSON
    browser = Client()
    start = browser.get("/auth/login")
    browser.get(hosted_ui(start["Location"]).removeprefix("http://testserver"))

    response = browser.post("/signout")

    assert response["Location"].startswith(
        f"{provider.url}/logout?client_id={WEB_CLIENT}"
    )
    assert browser.get("/api/v1/me").status_code == 401


def test_web_oidc_pages_absent_when_not_configured():
    """Without the hosted UI settings, its routes do not exist."""
    assert Client().get("/auth/login").status_code == 404
    assert json.loads(Client().get("/api/v1/me").content)["code"] == "not_authenticated"

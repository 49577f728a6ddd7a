"""The validator against forged tokens, with a Cognito-like JWKS on loopback.

The "pool" here is a real HTTP server on 127.0.0.1 serving a JWKS made of keys
generated for the test; tokens are built with PyJWT (and by hand where PyJWT
refuses to forge).
"""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from rest_framework.test import APIClient

from accounts import tokens
from accounts.models import User
from accounts.tokens import KeyStore, TokenError, get_validator

pytestmark = pytest.mark.django_db

REGION = "us-east-1"
POOL = "us-east-1_TestPool1"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}"
CLIENT = "client-allowed"
KID = "test-kid-1"


class JwksServer:
    """A loopback HTTP server serving a JWKS and counting the fetches."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.hits = 0
        self.delay = 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                owner.hits += 1
                if owner.delay:
                    time.sleep(owner.delay)
                body = json.dumps(owner.document).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout tests)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = (
            f"http://127.0.0.1:{self.httpd.server_port}/{POOL}/.well-known/jwks.json"
        )
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _jwk(private: Any, kid: str) -> dict[str, Any]:
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return jwk


@pytest.fixture(scope="module")
def pool_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks_server(pool_key) -> Iterator[JwksServer]:
    server = JwksServer()
    server.document = {"keys": [_jwk(pool_key, KID)]}
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def cognito_settings(settings, jwks_server, moto_server) -> None:
    """Point the validator at the loopback pool (moto answers any GetUser)."""
    settings.COGNITO_AWS_REGION = REGION
    settings.COGNITO_USER_POOL = POOL
    settings.COGNITO_AUDIENCE = [CLIENT]
    settings.COGNITO_JWKS_URL = jwks_server.url
    settings.COGNITO_LEEWAY_SECONDS = 30
    settings.COGNITO_JWKS_REFETCH_INTERVAL_SECONDS = 60
    get_validator.cache_clear()
    yield
    get_validator.cache_clear()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": str(uuid.uuid4()),
        "token_use": "id",
        "aud": CLIENT,
        "email": "forge@example.com",
        "email_verified": True,
        "iat": now,
        "exp": now + 3600,
        "cognito:username": "forge",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], key: Any, kid: str = KID, alg: str = "RS256") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _get_me(token: str):
    return APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def _assert_refused(token: str, code: str = "token_invalid") -> None:
    response = _get_me(token)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    body = response.json()
    assert body["code"] == code
    assert set(body) == {"detail", "code"}
    assert token not in response.content.decode()
    assert User.objects.count() == 0


def test_forgery_genuine_id_token_is_accepted(pool_key):
    """The control case: a correctly signed ID token for the pool works."""
    response = _get_me(_sign(_claims(), pool_key))
    assert response.status_code == 200
    assert response.json()["email"] == "forge@example.com"


def test_forgery_genuine_access_token_is_accepted(pool_key):
    """An access token for an allowed client works."""
    claims = _claims(token_use="access", aud=None, client_id=CLIENT, email=None)
    assert _get_me(_sign(claims, pool_key)).status_code == 200


def test_forgery_alg_none_is_refused():
    """``alg: none`` (unsigned) is refused."""
    header = _b64(json.dumps({"alg": "none", "kid": KID, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    _assert_refused(f"{header}.{payload}.")


def test_forgery_hs256_with_public_key_is_refused(pool_key):
    """HS256 signed with the pool's public key as the secret is refused."""
    public_pem = pool_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "kid": KID, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = _b64(hmac.new(public_pem, signing_input, hashlib.sha256).digest())
    _assert_refused(f"{header}.{payload}.{signature}")


@pytest.mark.parametrize("alg", ["RS512", "PS256"])
def test_forgery_other_rsa_alg_is_refused(pool_key, alg):
    """Only RS256 is accepted, even when signed by the right key."""
    _assert_refused(_sign(_claims(), pool_key, alg=alg))


def test_forgery_unknown_kid_is_refused(other_key):
    """A kid that is not in the JWKS is refused."""
    _assert_refused(_sign(_claims(), other_key, kid="forged-kid"))


def test_forgery_known_kid_wrong_key_is_refused(other_key):
    """A known kid with a signature from another key is refused."""
    _assert_refused(_sign(_claims(), other_key))


def test_forgery_missing_kid_is_refused(pool_key):
    """A token without a kid is refused."""
    _assert_refused(jwt.encode(_claims(), pool_key, algorithm="RS256"))


@pytest.mark.parametrize(
    "iss",
    [
        f"https://cognito-idp.{REGION}.amazonaws.com/us-east-1_OtherPool",
        f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}",
        f"{ISSUER}/",
        "urn:quire:local",
    ],
)
def test_forgery_other_issuer_is_refused(pool_key, iss):
    """A token from another pool or issuer is refused (exact match)."""
    _assert_refused(_sign(_claims(iss=iss), pool_key))


def test_forgery_id_token_other_client_is_refused(pool_key):
    """An ID token for another app client (aud) is refused."""
    _assert_refused(_sign(_claims(aud="client-other"), pool_key))


def test_forgery_access_token_other_client_is_refused(pool_key):
    """An access token for another app client (client_id) is refused."""
    claims = _claims(token_use="access", aud=None, client_id="client-other")
    _assert_refused(_sign(claims, pool_key))


def test_forgery_access_token_with_aud_but_no_client_id_is_refused(pool_key):
    """Access tokens are checked on client_id, not on aud."""
    claims = _claims(token_use="access", aud=CLIENT)
    _assert_refused(_sign(claims, pool_key))


@pytest.mark.parametrize("use", ["refresh", "", None, "ID", ["id"]])
def test_forgery_wrong_token_use_is_refused(pool_key, use):
    """Any token_use other than access or id is refused."""
    _assert_refused(_sign(_claims(token_use=use), pool_key))


def test_forgery_expired_is_refused_with_token_expired(pool_key):
    """A token past exp plus the leeway answers token_expired."""
    now = int(time.time())
    claims = _claims(iat=now - 7200, exp=now - 31)
    _assert_refused(_sign(claims, pool_key), code="token_expired")


def test_forgery_expired_within_leeway_is_accepted(pool_key):
    """A token that expired less than the leeway ago still works."""
    now = int(time.time())
    assert _get_me(_sign(_claims(exp=now - 10), pool_key)).status_code == 200


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_forgery_not_yet_valid_is_refused(pool_key, claim):
    """A token whose nbf or iat is beyond the leeway in the future is refused."""
    _assert_refused(_sign(_claims(**{claim: int(time.time()) + 120}), pool_key))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "iss"])
def test_forgery_missing_required_claim_is_refused(pool_key, claim):
    """exp, iat, sub and iss are required."""
    _assert_refused(_sign(_claims(**{claim: None}), pool_key))


def test_forgery_tampered_payload_is_refused(pool_key):
    """Changing the payload of a genuine token breaks its signature."""
    token = _sign(_claims(), pool_key)
    header, _, signature = token.split(".")
    forged = _b64(json.dumps(_claims(sub="victim", email="boss@example.com")).encode())
    _assert_refused(f"{header}.{forged}.{signature}")


def test_forgery_kid_flood_fetches_jwks_once_per_interval(
    pool_key, other_key, jwks_server
):
    """A flood of unknown kids causes at most one JWKS fetch per interval."""
    assert _get_me(_sign(_claims(), pool_key)).status_code == 200
    assert jwks_server.hits == 1
    for _ in range(25):
        token = _sign(_claims(), other_key, kid=uuid.uuid4().hex)
        assert _get_me(token).status_code == 401
    assert jwks_server.hits == 1
    assert _get_me(_sign(_claims(), pool_key)).status_code == 200
    assert jwks_server.hits == 1


def test_forgery_kid_flood_after_interval_allows_one_refetch(
    pool_key, other_key, jwks_server
):
    """Once the interval has passed, a flood of unknown kids costs one fetch."""
    _get_me(_sign(_claims(), pool_key))
    get_validator().keystore.last_attempt_at -= 61  # the interval has passed
    for _ in range(10):
        _get_me(_sign(_claims(), other_key, kid=uuid.uuid4().hex))
    assert jwks_server.hits == 2


def test_forgery_remembered_token_refused_after_key_removed(
    settings, pool_key, jwks_server
):
    """A token accepted before is refused once its key leaves the JWKS."""
    token = _sign(_claims(), pool_key)
    assert _get_me(token).status_code == 200
    jwks_server.document = {"keys": []}
    store = get_validator().keystore
    store.fetched_at -= 3601  # past the TTL
    store.last_attempt_at -= 3601
    response = _get_me(token)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"
    assert jwks_server.hits == 2


def test_forgery_remembered_token_expires(pool_key):
    """A remembered token is refused once it expires (plus the leeway)."""
    now = int(time.time())
    token = _sign(_claims(exp=now - 27), pool_key)  # inside the 30 s leeway
    assert _get_me(token).status_code == 200
    time.sleep(3.5)
    response = _get_me(token)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_forgery_jwks_unreachable_refuses_with_401(settings, pool_key):
    """If the JWKS cannot be fetched the token is refused, not a 500."""
    settings.COGNITO_JWKS_URL = "http://127.0.0.1:9/nothing"
    get_validator.cache_clear()
    _assert_refused(_sign(_claims(), pool_key))


def test_forgery_jwks_slow_times_out(settings, pool_key, jwks_server):
    """A JWKS fetch is bounded by COGNITO_JWKS_TIMEOUT_SECONDS."""
    settings.COGNITO_JWKS_TIMEOUT_SECONDS = 0.2
    get_validator.cache_clear()
    token = _sign(_claims(), pool_key)
    jwks_server.delay = 3.0
    started = time.monotonic()
    _assert_refused(token)
    assert time.monotonic() - started < 2.0


def test_forgery_local_token_refused_when_cognito_configured():
    """A token from the local issuer is refused while Cognito is the issuer."""
    from accounts import local_issuer

    _assert_refused(local_issuer.issue_token(sub="x", email="x@example.com", use="id"))


# --- KeyStore unit behaviour (fake clock, no HTTP) ---------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _store(documents: list[dict], clock: FakeClock, ttl=3600, interval=60):
    calls = []

    def loader() -> dict:
        calls.append(1)
        return documents[min(len(calls), len(documents)) - 1]

    store = KeyStore(loader=loader, ttl=ttl, refetch_interval=interval, clock=clock)
    return store, calls


def test_keystore_rotated_key_found_after_interval(pool_key, other_key):
    """A newly published kid is picked up by the first refetch allowed."""
    clock = FakeClock()
    first = {"keys": [_jwk(pool_key, "a")]}
    second = {"keys": [_jwk(pool_key, "a"), _jwk(other_key, "b")]}
    store, calls = _store([first, second], clock)
    assert store.get("a") is not None
    assert store.get("b") is None
    assert len(calls) == 1
    clock.now += 61
    assert store.get("b") is not None
    assert len(calls) == 2


def test_keystore_refetches_after_ttl(pool_key):
    """Known keys are refreshed once the TTL has passed."""
    clock = FakeClock()
    store, calls = _store([{"keys": [_jwk(pool_key, "a")]}], clock, ttl=300)
    store.get("a")
    clock.now += 299
    store.get("a")
    assert len(calls) == 1
    clock.now += 2
    store.get("a")
    assert len(calls) == 2


def test_keystore_failed_refresh_keeps_known_keys(pool_key):
    """An issuer outage after the first fetch keeps the cached keys working."""
    clock = FakeClock()
    ok = {"keys": [_jwk(pool_key, "a")]}
    calls = []

    def loader() -> dict:
        calls.append(1)
        if len(calls) > 1:
            raise OSError("down")
        return ok

    store = KeyStore(loader=loader, ttl=10, refetch_interval=5, clock=clock)
    assert store.get("a") is not None
    clock.now += 11
    assert store.get("a") is not None
    assert len(calls) == 2


def test_keystore_ignores_non_signing_keys(pool_key):
    """Encryption keys and other algorithms in the JWKS are ignored."""
    enc = {**_jwk(pool_key, "enc"), "use": "enc"}
    hs = {"kty": "oct", "kid": "hs", "k": "c2VjcmV0"}
    keys = tokens.parse_jwks({"keys": [enc, hs, _jwk(pool_key, "sig")]})
    assert set(keys) == {"sig"}


def test_validator_error_never_contains_token(pool_key):
    """TokenError messages are fixed strings."""
    token = _sign(_claims(iss="https://evil"), pool_key)
    with pytest.raises(TokenError) as info:
        get_validator().validate(token)
    assert token not in str(info.value)

"""A small OpenID Connect provider on loopback, shaped like Cognito's hosted UI.

Implements what the admin sign-in uses: ``/oauth2/authorize`` (code flow with
PKCE S256; like Cognito, a scope the app client does not allow is refused
with ``invalid_scope``), ``/oauth2/token`` (client_secret_basic, code_verifier
checked), ``/oauth2/userInfo`` and the pool's JWKS. The person who "signs in" at the
hosted UI is whatever ``signed_in`` holds when the browser arrives.
"""

import base64
import hashlib
import http.server
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


class OIDCProvider:
    """Run the provider in a thread; ``url``, ``issuer`` and claims to issue."""

    def __init__(self, client_id: str, client_secret: str) -> None:  # noqa: D107
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        self.signed_in: dict[str, Any] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, Any]] = []
        self.authorize_requests: list[dict[str, str]] = []
        # What infra's Cognito app clients allow (AllowedOAuthScopes).
        self.allowed_scopes = {"openid", "email", "profile"}
        self.id_token_overrides: dict[str, Any] = {}
        self._server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), self._handler()
        )
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self.issuer = f"{self.url}/us-east-1_TestPool"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "OIDCProvider":
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()

    def jwks(self) -> dict[str, Any]:
        """Return the public key set."""
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def id_token(self, claims: dict[str, Any], nonce: str | None) -> str:
        """Return an RS256 ID token for ``claims`` as Cognito would sign it."""
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": self.client_id,
            "token_use": "id",
            "auth_time": now,
            "iat": now,
            "exp": now + 3600,
            **claims,
        }
        if nonce:
            payload["nonce"] = nonce
        payload.update(self.id_token_overrides)
        return jwt.encode(
            payload, self.key, algorithm="RS256", headers={"kid": self.kid}
        )

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                parsed = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                if parsed.path == "/oauth2/authorize":
                    return self._authorize(query)
                if parsed.path == "/us-east-1_TestPool/.well-known/jwks.json":
                    return self._json(200, provider.jwks())
                if parsed.path == "/oauth2/userInfo":
                    token = self.headers.get("Authorization", "").removeprefix(
                        "Bearer "
                    )
                    claims = provider.access_tokens.get(token)
                    if claims is None:
                        return self._json(401, {"error": "invalid_token"})
                    # Like Cognito: no cognito:groups in userInfo.
                    return self._json(
                        200,
                        {
                            "sub": claims["sub"],
                            "email": claims["email"],
                            "email_verified": "true",
                        },
                    )
                return self._json(404, {"error": "not_found"})

            def _authorize(self, query: dict[str, str]) -> None:
                provider.authorize_requests.append(query)
                if (
                    query.get("client_id") != provider.client_id
                    or query.get("response_type") != "code"
                    or query.get("code_challenge_method") != "S256"
                    or not query.get("code_challenge")
                ):
                    return self._json(400, {"error": "invalid_request"})
                scopes = set(query.get("scope", "").split())
                if "openid" not in scopes or not scopes <= provider.allowed_scopes:
                    # Cognito's answer to a scope the client may not ask for.
                    answer = {"error": "invalid_scope", "state": query.get("state", "")}
                    return self._redirect(
                        f"{query['redirect_uri']}?{urlencode(answer)}"
                    )
                code = secrets.token_urlsafe(16)
                provider.codes[code] = {
                    "challenge": query["code_challenge"],
                    "nonce": query.get("nonce"),
                    "redirect_uri": query["redirect_uri"],
                    "scope": query["scope"],
                    "claims": dict(provider.signed_in),
                }
                location = (
                    query["redirect_uri"]
                    + "?"
                    + urlencode({"code": code, "state": query.get("state", "")})
                )
                return self._redirect(location)

            def _redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                if urlparse(self.path).path != "/oauth2/token":
                    return self._json(404, {"error": "not_found"})
                length = int(self.headers.get("Content-Length", "0"))
                form = {
                    k: v[0]
                    for k, v in parse_qs(self.rfile.read(length).decode()).items()
                }
                provider.token_requests.append(form)
                expected = base64.b64encode(
                    f"{provider.client_id}:{provider.client_secret}".encode()
                ).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    return self._json(401, {"error": "invalid_client"})
                grant = provider.codes.pop(form.get("code", ""), None)
                if grant is None or form.get("grant_type") != "authorization_code":
                    return self._json(400, {"error": "invalid_grant"})
                if form.get("redirect_uri") != grant["redirect_uri"]:
                    return self._json(400, {"error": "invalid_grant"})
                verifier = form.get("code_verifier", "")
                challenge = (
                    base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                    .rstrip(b"=")
                    .decode()
                )
                if challenge != grant["challenge"]:
                    return self._json(400, {"error": "invalid_grant"})
                access_token = secrets.token_urlsafe(24)
                provider.access_tokens[access_token] = grant["claims"]
                return self._json(
                    200,
                    {
                        "id_token": provider.id_token(grant["claims"], grant["nonce"]),
                        "access_token": access_token,
                        "token_type": "Bearer",
                        "expires_in": 3600,
                    },
                )

        return Handler

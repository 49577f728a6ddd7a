"""The local token issuer: Cognito-shaped tokens for laptops and tests.

An RSA key is generated under ``var/`` on first use. Tokens minted here are
checked by the same :class:`accounts.tokens.TokenValidator` as Cognito's; only
the issuer name, the allowed client and the JWKS source differ.
"""

import base64
import hashlib
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from accounts.tokens import ALGORITHM, LOCAL_CLIENT_ID

DEFAULT_TTL_SECONDS = 3600
_SUB_NAMESPACE = uuid.UUID("6f0c1a55-2d0e-4c8e-9a53-0b7f1c3e2a10")

_keys: dict[str, tuple[Any, str]] = {}
_lock = threading.Lock()


def key_path() -> Path:
    """Return where the local signing key lives."""
    configured = settings.LOCAL_ISSUER_KEY_PATH
    return Path(configured) if configured else Path(settings.VAR_DIR) / "jwt-local.pem"


def issuer() -> str:
    """Return the ``iss`` of locally minted tokens."""
    return settings.LOCAL_ISSUER_NAME


def _load_or_create(path: Path) -> tuple[Any, str]:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        try:
            # Another process may have won the race; keep its key.
            path.hardlink_to(tmp)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return private, _thumbprint(jwk)


def _thumbprint(jwk: dict[str, Any]) -> str:
    """Return the RFC 7638 thumbprint of an RSA JWK (used as its ``kid``)."""
    canonical = json.dumps(
        {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signing_key() -> tuple[Any, str]:
    """Return the private key and its ``kid``, creating the key on first use."""
    path = key_path()
    cached = _keys.get(str(path))
    if cached is None:
        with _lock:
            cached = _keys.get(str(path))
            if cached is None:
                cached = _load_or_create(path)
                _keys[str(path)] = cached
    return cached


def jwks() -> dict[str, Any]:
    """Return the JWKS document with the local public key."""
    private, kid = signing_key()
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    return {"keys": [jwk]}


def sub_for_email(email: str) -> str:
    """Return the stable local ``sub`` for an email address."""
    return str(uuid.uuid5(_SUB_NAMESPACE, email.strip().lower()))


def issue_token(
    *,
    sub: str,
    email: str | None = None,
    use: str = "access",
    groups: list[str] | None = None,
    ttl: int = DEFAULT_TTL_SECONDS,
    issued_at: int | None = None,
) -> str:
    """Mint a Cognito-shaped access or ID token signed by the local key."""
    private, kid = signing_key()
    now = int(time.time()) if issued_at is None else issued_at
    claims: dict[str, Any] = {
        "iss": issuer(),
        "sub": sub,
        "token_use": use,
        "iat": now,
        "auth_time": now,
        "exp": now + ttl,
        "jti": str(uuid.uuid4()),
    }
    if use == "id":
        claims["aud"] = LOCAL_CLIENT_ID
        claims["cognito:username"] = sub
        if email:
            claims["email"] = email
            claims["email_verified"] = True
    else:
        claims["client_id"] = LOCAL_CLIENT_ID
        claims["username"] = sub
        claims["scope"] = "aws.cognito.signin.user.admin"
    if groups:
        claims["cognito:groups"] = list(groups)
    return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid})


def signing_key_cache_clear() -> None:
    """Forget the loaded keys (for tests)."""
    with _lock:
        _keys.clear()

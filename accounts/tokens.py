"""Validation of Cognito (and local-issuer) JWTs.

django-cognito-jwt's own validator fetches the JWKS without a timeout, accepts
any ``token_use`` and never checks ``client_id``; this module replaces it.

One :class:`TokenValidator` exists per issuer configuration and per process.
Its :class:`KeyStore` fetches the JWKS once, keeps the parsed public keys for
``COGNITO_JWKS_TTL_SECONDS`` and, when a token names an unknown ``kid``,
refetches at most once per ``COGNITO_JWKS_REFETCH_INTERVAL_SECONDS`` so that a
flood of forged kids cannot turn into a flood of JWKS requests.
"""

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

import httpx
import jwt
from jwt.algorithms import RSAAlgorithm

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
TOKEN_USES = ("access", "id")


class TokenError(Exception):
    """The token is not acceptable; ``code`` is the stable machine code."""

    def __init__(self, detail: str, code: str = "token_invalid") -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


class IssuerNotConfigured(Exception):
    """Cognito is the issuer but a required setting is empty."""


JwksLoader = Callable[[], dict[str, Any]]


def http_jwks_loader(url: str, timeout: float) -> JwksLoader:
    """Return a loader that GETs the JWKS document at ``url``."""

    def load() -> dict[str, Any]:
        response = httpx.get(url, timeout=timeout, follow_redirects=False)
        response.raise_for_status()
        return response.json()

    return load


def parse_jwks(document: dict[str, Any]) -> dict[str, Any]:
    """Return ``{kid: public key}`` for the RSA signing keys in a JWKS document."""
    keys: dict[str, Any] = {}
    for item in document.get("keys", []):
        kid = item.get("kid")
        if not isinstance(kid, str) or item.get("kty") != "RSA":
            continue
        if item.get("use", "sig") != "sig" or item.get("alg", ALGORITHM) != ALGORITHM:
            continue
        try:
            keys[kid] = RSAAlgorithm.from_jwk(json.dumps(item))
        except (ValueError, jwt.InvalidKeyError):
            logger.warning("skipping unreadable JWKS key %s", kid)
    return keys


@dataclass
class KeyStore:
    """Process-wide cache of one issuer's public keys."""

    loader: JwksLoader
    ttl: float
    refetch_interval: float
    clock: Callable[[], float] = time.monotonic
    keys: dict[str, Any] = field(default_factory=dict)
    fetched_at: float | None = None
    last_attempt_at: float | None = None
    fetch_count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, kid: str) -> Any | None:
        """Return the public key for ``kid``, fetching the JWKS only when allowed."""
        key = self.keys.get(kid)
        if key is not None and not self._stale():
            return key
        if key is not None:
            # Known but past its TTL: refresh unless another thread already
            # is, and keep using the known key meanwhile.
            if not self._lock.acquire(blocking=False):
                return key
            try:
                if not self._may_fetch(self.clock()):
                    return key
                self._fetch()
            finally:
                self._lock.release()
            return self.keys.get(kid)
        # Unknown kid: wait for a fetch in progress (first requests of a
        # process), then fetch only if the interval allows it.
        with self._lock:
            key = self.keys.get(kid)
            if key is None and self._may_fetch(self.clock()):
                self._fetch()
                key = self.keys.get(kid)
        return key

    def _stale(self) -> bool:
        return self.fetched_at is None or self.clock() - self.fetched_at >= self.ttl

    def _may_fetch(self, now: float) -> bool:
        """Allow one fetch at start, then at most one per refetch interval."""
        return (
            self.last_attempt_at is None
            or now - self.last_attempt_at >= self.refetch_interval
        )

    def _fetch(self) -> None:
        self.last_attempt_at = self.clock()
        self.fetch_count += 1
        try:
            keys = parse_jwks(self.loader())
        except (httpx.HTTPError, ValueError, KeyError, OSError):
            # Keep serving the keys already known: an issuer outage must not
            # sign everybody out.
            logger.warning("JWKS fetch failed; keeping %s cached keys", len(self.keys))
            return
        self.keys = keys
        self.fetched_at = self.last_attempt_at


@dataclass(frozen=True)
class IssuerConfig:
    """What a token must match: issuer, allowed app clients, clock leeway."""

    issuer: str
    allowed_clients: frozenset[str]
    leeway: float
    is_local: bool


class VerifiedTokens:
    """The one per-process memory of signatures already verified.

    Keyed by the SHA-256 of the token (the token itself is never kept), an
    entry holds the verified claims and the signing key's id until the
    token's ``exp``, never longer. It only saves the RSA verification: the
    account behind the token (active, signed out, deleted) is read from the
    database on every request by :func:`accounts.services.user_authenticate`.
    Bounded (least recently used first out) and safe across threads.
    """

    def __init__(
        self, *, max_entries: int = 4096, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self.entries: OrderedDict[bytes, tuple[str, float, dict[str, Any]]] = (
            OrderedDict()
        )
        self.lock = threading.Lock()

    @staticmethod
    def key(token: str) -> bytes:
        """Return the cache key of ``token`` (its SHA-256 digest)."""
        return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()

    def get(self, token: str) -> tuple[str, dict[str, Any]] | None:
        """Return ``(kid, claims)`` of a token verified before, until its ``exp``."""
        key = self.key(token)
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                return None
            kid, expires_at, claims = entry
            if self.clock() >= expires_at:
                del self.entries[key]
                return None
            self.entries.move_to_end(key)
        return kid, dict(claims)

    def put(self, token: str, kid: str, claims: dict[str, Any]) -> None:
        """Remember verified ``claims`` until the token's ``exp``."""
        expires_at = float(claims["exp"])
        if expires_at <= self.clock():
            return  # accepted within the leeway: verify it again next time
        key = self.key(token)
        with self.lock:
            self.entries[key] = (kid, expires_at, dict(claims))
            self.entries.move_to_end(key)
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)

    def discard(self, token: str) -> None:
        """Forget one token (its key left the JWKS)."""
        with self.lock:
            self.entries.pop(self.key(token), None)

    def clear(self) -> None:
        """Forget everything (tests)."""
        with self.lock:
            self.entries.clear()

    def __len__(self) -> int:
        return len(self.entries)


class TokenValidator:
    """Check a JWT's algorithm, key, signature, issuer, times and audience.

    Tokens that passed are remembered in :class:`VerifiedTokens` so that a
    client's next requests skip the RSA verification; a remembered token is
    still refused once its key leaves the JWKS or it expires.
    """

    def __init__(
        self,
        config: IssuerConfig,
        keystore: KeyStore,
        verified: "VerifiedTokens | None" = None,
    ) -> None:
        self.config = config
        self.keystore = keystore
        self.verified = verified if verified is not None else VerifiedTokens()

    def validate(self, token: str) -> dict[str, Any]:
        """Return the verified claims of ``token`` or raise :class:`TokenError`."""
        hit = self.verified.get(token)
        if hit is not None:
            kid, claims = hit
            if self.keystore.get(kid) is not None:
                return claims
            self.verified.discard(token)
        claims, kid = self._validate(token)
        self.verified.put(token, kid, claims)
        return claims

    def _validate(self, token: str) -> tuple[dict[str, Any], str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError(_("The token is malformed.")) from None
        if header.get("alg") != ALGORITHM:
            raise TokenError(_("The token is not signed with an accepted algorithm."))
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError(_("The token does not name its signing key."))
        key = self.keystore.get(kid)
        if key is None:
            raise TokenError(_("The token is signed with an unknown key."))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=self.config.issuer,
                leeway=self.config.leeway,
                options={
                    "require": ["exp", "iat", "iss", "sub", "token_use"],
                    "verify_aud": False,  # checked below, per token_use
                },
            )
        except jwt.ExpiredSignatureError:
            raise TokenError(_("The token has expired."), "token_expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenError(_("The token is not valid yet.")) from None
        except jwt.PyJWTError:
            raise TokenError(_("The token is invalid.")) from None
        self._check_client(claims)
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise TokenError(_("The token has no subject."))
        return claims, kid

    def _check_client(self, claims: dict[str, Any]) -> None:
        use = claims.get("token_use")
        if use == "access":
            clients = [claims.get("client_id")]
        elif use == "id":
            aud = claims.get("aud")
            clients = aud if isinstance(aud, list) else [aud]
        else:
            raise TokenError(_("This kind of token is not accepted."))
        if not any(
            isinstance(c, str) and c in self.config.allowed_clients for c in clients
        ):
            raise TokenError(_("The token was issued to another application."))


LOCAL_CLIENT_ID = "quire-local"


def cognito_issuer() -> str:
    """Return the exact ``iss`` of tokens from the configured user pool."""
    return (
        f"https://cognito-idp.{settings.COGNITO_AWS_REGION}.amazonaws.com/"
        f"{settings.COGNITO_USER_POOL}"
    )


def local_issuer_enabled() -> bool:
    """Return whether tokens come from the local issuer instead of Cognito."""
    return bool(settings.LOCAL_ISSUER_ENABLED) and not settings.COGNITO_USER_POOL


_validators: dict[tuple, TokenValidator] = {}
_validators_lock = threading.Lock()
# The validator of the current settings, so that each request does not
# rebuild the configuration key; dropped whenever a setting changes.
_current: list[TokenValidator] = []


@receiver(setting_changed)
def _forget_current(**kwargs: Any) -> None:
    _current.clear()


def get_validator() -> TokenValidator:
    """Return this process's validator for the configured issuer."""
    if _current:
        return _current[0]
    validator = _validator_for_settings()
    _current[:] = [validator]
    return validator


def _validator_for_settings() -> TokenValidator:
    leeway = float(settings.COGNITO_LEEWAY_SECONDS)
    ttl = float(settings.COGNITO_JWKS_TTL_SECONDS)
    interval = float(settings.COGNITO_JWKS_REFETCH_INTERVAL_SECONDS)
    if local_issuer_enabled():
        from accounts import local_issuer

        path = str(local_issuer.key_path())
        cache_key: tuple = ("local", path, leeway, ttl, interval)
        issuer, clients = local_issuer.issuer(), [LOCAL_CLIENT_ID]

        def loader() -> dict[str, Any]:
            return local_issuer.jwks()

    else:
        missing = [
            name
            for name in ("COGNITO_AWS_REGION", "COGNITO_USER_POOL", "COGNITO_AUDIENCE")
            if not getattr(settings, name)
        ]
        if missing:
            raise IssuerNotConfigured(", ".join(missing))
        issuer = cognito_issuer()
        url = settings.COGNITO_JWKS_URL or f"{issuer}/.well-known/jwks.json"
        clients = list(settings.COGNITO_AUDIENCE)
        cache_key = ("cognito", issuer, url, tuple(clients), leeway, ttl, interval)
        loader = http_jwks_loader(url, float(settings.COGNITO_JWKS_TIMEOUT_SECONDS))
    validator = _validators.get(cache_key)
    if validator is None:
        with _validators_lock:
            validator = _validators.get(cache_key)
            if validator is None:
                config = IssuerConfig(
                    issuer=issuer,
                    allowed_clients=frozenset(clients),
                    leeway=leeway,
                    is_local=cache_key[0] == "local",
                )
                store = KeyStore(loader=loader, ttl=ttl, refetch_interval=interval)
                validator = TokenValidator(config, store)
                _validators[cache_key] = validator
    return validator


def get_validator_cache_clear() -> None:
    """Forget every cached validator and its keys (for tests)."""
    with _validators_lock:
        _validators.clear()
        _current.clear()


get_validator.cache_clear = get_validator_cache_clear  # type: ignore[attr-defined]

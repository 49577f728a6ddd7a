"""Provider API keys: Secrets Manager with a TTL, the environment as fallback.

``AI_<PROVIDER>_API_KEY_SECRET`` names a Secrets Manager secret (ARN or name)
whose value is the key itself or a JSON object holding it (``api_key``,
``apiKey``, ``key`` or ``<provider>_api_key``). The value is cached for
``AI_KEY_CACHE_TTL`` seconds, so a rotated key is used without a restart.
Without a secret, ``AI_<PROVIDER>_API_KEY`` is read (the embedded setup).

A key never reaches a log line, an exception message or an error body: the
errors raised here name the provider and the variable, never a value.
"""

import json
import logging
import os
import re
import threading
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from aiproxy.adapters.base import ProviderNotConfigured
from project.exceptions import ApplicationError
from project.secrets import TTLSecret

logger = logging.getLogger(__name__)

JSON_KEY_FIELDS = ("api_key", "apiKey", "API_KEY", "key")
# A key goes into a header: a line break in it would end the header early.
_UNSAFE_KEY = re.compile(r"[\x00-\x1f\x7f]")

_lock = threading.Lock()
_secrets: dict[str, TTLSecret] = {}
# The last key read successfully per secret: a Secrets Manager outage after a
# successful read keeps the proxy working on the key it already had.
_last_good: dict[str, str] = {}


class ProviderKeyMissing(ProviderNotConfigured, ApplicationError):
    """No key is configured for a provider, or its secret cannot be read (503).

    Both a ``ProviderNotConfigured`` (what the AI views turn into 503) and an
    ``ApplicationError`` (what the DRF exception handler shapes).
    """

    def __init__(self, provider: str) -> None:
        super().__init__(
            str(_("The AI provider is not configured.")),
            code="ai_not_configured",
            status=503,
        )
        self.provider = provider


def _prefix(provider: str) -> str:
    return "AI_" + provider.upper().replace("-", "_").replace(".", "_") + "_"


def _secret_id(provider: str) -> str:
    configured = getattr(settings, "AI_PROVIDERS", {}).get(provider) or {}
    return str(
        configured.get("api_key_secret")
        or os.environ.get(_prefix(provider) + "API_KEY_SECRET", "")
    ).strip()


def _ttl() -> float:
    return float(getattr(settings, "AI_KEY_CACHE_TTL", 300.0))


def _cached_secret(secret_id: str) -> TTLSecret:
    ttl = _ttl()
    with _lock:
        secret = _secrets.get(secret_id)
        if secret is None or secret.ttl != ttl:
            secret = _secrets[secret_id] = TTLSecret(secret_id, ttl=ttl)
        return secret


def _key_from_value(provider: str, value: str) -> str:
    """Return the key held in a secret value: a plain string or a JSON object."""
    text = value.strip()
    if not text.startswith("{"):
        return text
    try:
        data: Any = json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, dict):
        return ""
    for field in (*JSON_KEY_FIELDS, provider.lower() + "_api_key"):
        candidate = data.get(field)
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    strings = [v for v in data.values() if isinstance(v, str) and v.strip()]
    return strings[0].strip() if len(strings) == 1 else ""


def _key_from_secret(provider: str, secret_id: str) -> str:
    try:
        value = _cached_secret(secret_id).get()
    except Exception as exc:
        # The exception text of botocore never holds the secret value, but
        # only its class is logged to keep this path obviously safe.
        stale = _last_good.get(secret_id)
        if stale:
            logger.warning(
                "AI key secret of provider %s unreadable (%s); using the last key",
                provider,
                type(exc).__name__,
            )
            return stale
        logger.error(
            "AI key secret of provider %s unreadable (%s)",
            provider,
            type(exc).__name__,
        )
        raise ProviderKeyMissing(provider) from None
    key = _key_from_value(provider, value)
    if not key:
        logger.error("AI key secret of provider %s holds no usable key", provider)
        raise ProviderKeyMissing(provider)
    _last_good[secret_id] = key
    return key


def get_provider_key(provider_name: str) -> str:
    """Return the current API key of ``provider_name``.

    Read the provider's Secrets Manager secret (cached with a TTL) when one is
    configured, else ``AI_<PROVIDER>_API_KEY``. Raise ``ProviderKeyMissing``
    (503 ``ai_not_configured``) when neither yields a key. The first read of a
    secret, and each one after the TTL, is a blocking network call: async
    callers run this in a thread.
    """
    secret_id = _secret_id(provider_name)
    if secret_id:
        return _usable(provider_name, _key_from_secret(provider_name, secret_id))
    key = os.environ.get(_prefix(provider_name) + "API_KEY", "").strip()
    if not key:
        logger.error(
            "AI provider %s has no key: set %sAPI_KEY_SECRET or %sAPI_KEY",
            provider_name,
            _prefix(provider_name),
            _prefix(provider_name),
        )
        raise ProviderKeyMissing(provider_name)
    return _usable(provider_name, key)


def key_problem(key: str) -> str | None:
    """Return why ``key`` cannot be sent in a header, or None."""
    if _UNSAFE_KEY.search(key):
        return "holds a line break or another control character"
    return None


def _usable(provider: str, key: str) -> str:
    problem = key_problem(key)
    if problem:
        logger.error("AI key of provider %s %s: refused", provider, problem)
        raise ProviderKeyMissing(provider)
    return key


def cache_clear() -> None:
    """Forget every cached secret (tests, or after changing the settings)."""
    with _lock:
        _secrets.clear()
        _last_good.clear()

"""The Secrets Manager adapter: the only module that calls Secrets Manager.

boto3 finds moto (tests) or AWS through its standard configuration
(``AWS_ENDPOINT_URL``, region, credentials); there is no code fork.
"""

import functools
import json
import threading
import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Start-up must fail fast, not hang, when Secrets Manager is unreachable.
_CONFIG = Config(
    connect_timeout=3, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}
)


class SecretError(ImproperlyConfigured):
    """A secret named by a setting could not be read or is malformed.

    The message names the variable and the secret id, never the value.
    """


@functools.cache
def _client() -> Any:
    # One client per process: creating one costs milliseconds and reads config.
    return boto3.client("secretsmanager", config=_CONFIG)


def get_secret_string(secret_id: str) -> str:
    """Return the current string value of ``secret_id`` (ARN or name)."""
    return _client().get_secret_value(SecretId=secret_id)["SecretString"]


def get_secret_json(secret_id: str) -> dict[str, Any]:
    """Return ``secret_id`` parsed as a JSON object."""
    return json.loads(get_secret_string(secret_id))


class TTLSecret:
    """A secret value cached for ``ttl`` seconds, so rotation needs no restart."""

    def __init__(self, secret_id: str, ttl: float = 300.0) -> None:
        self.secret_id = secret_id
        self.ttl = ttl
        self._value: str | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> str:
        """Return the cached value, fetching it again once the TTL has passed."""
        with self._lock:
            if self._value is None or time.monotonic() - self._fetched_at > self.ttl:
                self._value = get_secret_string(self.secret_id)
                self._fetched_at = time.monotonic()
            return self._value


def read_secret(secret_id: str, *, variable: str) -> str:
    """Return the secret named by the setting ``variable``, or raise SecretError."""
    try:
        return get_secret_string(secret_id)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise SecretError(
            f"{variable}: cannot read secret {secret_id!r} from Secrets Manager "
            f"({code})."
        ) from None
    except (BotoCoreError, KeyError) as error:
        raise SecretError(
            f"{variable}: cannot read secret {secret_id!r} from Secrets Manager "
            f"({type(error).__name__})."
        ) from None


def database_from_secret(
    secret_id: str,
    *,
    variable: str = "DATABASE_SECRET_ARN",
    defaults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a Django ``DATABASES`` entry built from an RDS JSON secret.

    The secret holds ``username`` and ``password`` and, for secrets created
    with the instance, ``host``, ``port`` and ``dbname``; keys it lacks are
    taken from ``defaults`` (``host``, ``port``, ``dbname``).
    """
    raw = read_secret(secret_id, variable=variable)
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SecretError(f"{variable}: secret {secret_id!r} is not a JSON object.")
    merged = {
        "port": 5432,
        **{k: v for k, v in (defaults or {}).items() if v},
        **{k: v for k, v in data.items() if v},
    }
    missing = [
        key
        for key in ("username", "password", "host", "port", "dbname")
        if not merged.get(key)
    ]
    if missing:
        raise SecretError(
            f"{variable}: secret {secret_id!r} lacks {', '.join(missing)}."
        )
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": str(merged["dbname"]),
        "USER": str(merged["username"]),
        "PASSWORD": str(merged["password"]),
        "HOST": str(merged["host"]),
        "PORT": str(merged["port"]),
    }


def secret_key_from_secret(
    secret_id: str, *, variable: str = "DJANGO_SECRET_KEY_SECRET_ARN"
) -> str:
    """Return the Django secret key: the secret's string, or its ``secret_key``."""
    raw = read_secret(secret_id, variable=variable).strip()
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            data = {}
        raw = str(data.get("secret_key") or data.get("SECRET_KEY") or "").strip()
    if not raw:
        raise SecretError(f"{variable}: secret {secret_id!r} holds no secret key.")
    return raw


def cache_clear() -> None:
    """Forget the process-wide client (tests that move the endpoint call this)."""
    _client.cache_clear()

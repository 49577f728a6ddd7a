"""The Secrets Manager adapter: the only module that calls Secrets Manager.

boto3 finds moto (tests) or AWS through its standard configuration
(``AWS_ENDPOINT_URL``, region, credentials); there is no code fork.
"""

import functools
import json
import threading
import time
from typing import Any

import boto3


@functools.cache
def _client() -> Any:
    # One client per process: creating one costs milliseconds and reads config.
    return boto3.client("secretsmanager")


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


def cache_clear() -> None:
    """Forget the process-wide client (tests that move the endpoint call this)."""
    _client.cache_clear()

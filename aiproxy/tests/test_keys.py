"""Provider keys from moto's Secrets Manager (server mode), with the env fallback."""

import json
import logging
import time
import uuid
from collections.abc import Iterator

import boto3
import pytest

from aiproxy import keys
from project import secrets
from project.exceptions import api_exception_handler

pytestmark = pytest.mark.django_db

PROVIDER = "anthropic"


@pytest.fixture
def secretsmanager(moto_server) -> Iterator:
    """Return a boto3 Secrets Manager client on moto; start with empty caches."""
    secrets.cache_clear()
    keys.cache_clear()
    yield boto3.client("secretsmanager")
    keys.cache_clear()
    secrets.cache_clear()


@pytest.fixture(autouse=True)
def _no_key_env(monkeypatch) -> None:
    """Start every test with no key variables for the test provider."""
    monkeypatch.delenv("AI_ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("AI_ANTHROPIC_API_KEY_SECRET", raising=False)
    keys.cache_clear()


def make_secret(client, value: str) -> str:
    """Create a secret with a unique name; return its ARN."""
    name = f"quire/ai/{uuid.uuid4()}"
    return client.create_secret(Name=name, SecretString=value)["ARN"]


def test_get_provider_key_plain_string_secret_returns_it(secretsmanager, monkeypatch):
    """A secret holding the bare key yields that key."""
    arn = make_secret(secretsmanager, "sk-ant-plain-0001")
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY_SECRET", arn)

    assert keys.get_provider_key(PROVIDER) == "sk-ant-plain-0001"


@pytest.mark.parametrize(
    "payload",
    [
        {"api_key": "sk-ant-json-0002", "note": "rotated monthly"},
        {"apiKey": "sk-ant-json-0002"},
        {"anthropic_api_key": "sk-ant-json-0002", "owner": "platform"},
        {"only": "sk-ant-json-0002"},
    ],
)
def test_get_provider_key_json_secret_returns_key_field(
    secretsmanager, monkeypatch, payload
):
    """A JSON secret yields its key field (or its only string value)."""
    arn = make_secret(secretsmanager, json.dumps(payload))
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY_SECRET", arn)

    assert keys.get_provider_key(PROVIDER) == "sk-ant-json-0002"


def test_get_provider_key_secret_by_name_returns_key(secretsmanager, monkeypatch):
    """The secret may be named instead of given by ARN."""
    name = f"quire/ai/{uuid.uuid4()}"
    secretsmanager.create_secret(Name=name, SecretString="sk-ant-byname")
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY_SECRET", name)

    assert keys.get_provider_key(PROVIDER) == "sk-ant-byname"


def test_get_provider_key_secret_from_settings_returns_key(secretsmanager, settings):
    """``AI_PROVIDERS[name]["api_key_secret"]`` names the secret too."""
    arn = make_secret(secretsmanager, "sk-ant-settings")
    settings.AI_PROVIDERS = {PROVIDER: {"kind": "anthropic", "api_key_secret": arn}}

    assert keys.get_provider_key(PROVIDER) == "sk-ant-settings"


def test_get_provider_key_rotation_within_ttl_keeps_cached_key(
    secretsmanager, monkeypatch, settings
):
    """Within the TTL the cached key is used: no Secrets Manager call per request."""
    settings.AI_KEY_CACHE_TTL = 300
    arn = make_secret(secretsmanager, "sk-ant-old")
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY_SECRET", arn)
    assert keys.get_provider_key(PROVIDER) == "sk-ant-old"

    secretsmanager.put_secret_value(SecretId=arn, SecretString="sk-ant-new")

    assert keys.get_provider_key(PROVIDER) == "sk-ant-old"


def test_get_provider_key_rotation_after_ttl_returns_new_key(
    secretsmanager, monkeypatch, settings
):
    """Once the TTL has passed, the rotated key is used without a restart."""
    settings.AI_KEY_CACHE_TTL = 0.2
    arn = make_secret(secretsmanager, json.dumps({"api_key": "sk-ant-old"}))
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY_SECRET", arn)
    assert keys.get_provider_key(PROVIDER) == "sk-ant-old"

    secretsmanager.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"api_key": "sk-ant-new"})
    )
    time.sleep(0.3)

    assert keys.get_provider_key(PROVIDER) == "sk-ant-new"


def test_get_provider_key_no_secret_uses_env_fallback(monkeypatch):
    """Without a secret, ``AI_<PROVIDER>_API_KEY`` is the key."""
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY", "sk-ant-env")

    assert keys.get_provider_key(PROVIDER) == "sk-ant-env"


def test_get_provider_key_secret_wins_over_env(secretsmanager, monkeypatch):
    """A configured secret takes precedence over the env fallback."""
    arn = make_secret(secretsmanager, "sk-ant-from-secret")
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY_SECRET", arn)
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY", "sk-ant-from-env")

    assert keys.get_provider_key(PROVIDER) == "sk-ant-from-secret"


def test_get_provider_key_nothing_configured_raises_ai_not_configured():
    """No secret and no env var: 503 ``ai_not_configured``."""
    with pytest.raises(keys.ProviderKeyMissing) as info:
        keys.get_provider_key(PROVIDER)

    response = api_exception_handler(info.value, {})
    assert response.status_code == 503
    assert response.data == {
        "detail": "The AI provider is not configured.",
        "code": "ai_not_configured",
    }


def test_get_provider_key_missing_secret_raises_ai_not_configured(
    secretsmanager, monkeypatch
):
    """A secret that does not exist is a configuration error, not a 500."""
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY_SECRET", "quire/ai/does-not-exist")

    with pytest.raises(keys.ProviderKeyMissing) as info:
        keys.get_provider_key(PROVIDER)

    assert info.value.status == 503
    assert info.value.code == "ai_not_configured"


def test_get_provider_key_json_without_key_field_raises(secretsmanager, monkeypatch):
    """A JSON secret with no recognisable key field is refused."""
    arn = make_secret(secretsmanager, json.dumps({"user": "a", "password": "b"}))
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY_SECRET", arn)

    with pytest.raises(keys.ProviderKeyMissing):
        keys.get_provider_key(PROVIDER)


def test_get_provider_key_secret_deleted_after_read_keeps_last_key(
    secretsmanager, monkeypatch, settings
):
    """A Secrets Manager failure after a good read keeps serving the last key."""
    settings.AI_KEY_CACHE_TTL = 0
    arn = make_secret(secretsmanager, "sk-ant-last-good")
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY_SECRET", arn)
    assert keys.get_provider_key(PROVIDER) == "sk-ant-last-good"

    secretsmanager.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)

    assert keys.get_provider_key(PROVIDER) == "sk-ant-last-good"


def test_get_provider_key_never_logs_or_returns_the_key(
    secretsmanager, monkeypatch, settings, caplog
):
    """Reads, rotations and failures leave no key in logs or error bodies."""
    caplog.set_level(logging.DEBUG, logger="aiproxy")
    caplog.set_level(logging.INFO)
    settings.AI_KEY_CACHE_TTL = 0
    arn = make_secret(secretsmanager, json.dumps({"api_key": "sk-ant-SECRET-one"}))
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY_SECRET", arn)
    keys.get_provider_key(PROVIDER)
    secretsmanager.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"api_key": "sk-ant-SECRET-two"})
    )
    keys.get_provider_key(PROVIDER)
    secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps({"x": 1}))
    with pytest.raises(keys.ProviderKeyMissing) as info:
        keys.get_provider_key(PROVIDER)

    body = json.dumps(api_exception_handler(info.value, {}).data)
    for text in (caplog.text, body, str(info.value), repr(info.value)):
        assert "sk-ant-SECRET" not in text
    assert "holds no usable key" in caplog.text

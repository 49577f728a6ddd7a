"""The Anthropic and Bedrock providers behind POST /api/v1/ai/chat/completions.

Streams are tested under a real ASGI server (``test_live_providers.py``): the
test client reads a streamed body on another event loop than the view's.
"""

import json
import logging
import time
import uuid

import boto3
import pytest

from aiproxy import keys, providers
from aiproxy.models import QuotaCounter, UsageRecord
from aiproxy.tests.factories import AIModelFactory
from aiproxy.tests.fakes.anthropic_upstream import DEFAULT_REPLY as ANTHROPIC_REPLY
from aiproxy.tests.fakes.bedrock_upstream import DEFAULT_REPLY as BEDROCK_REPLY
from project import secrets

pytestmark = pytest.mark.django_db

URL = "/api/v1/ai/chat/completions"
PROMPT = "Draft the confidential launch memo about the violet walrus"
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": PROMPT},
]


def _post(client, body):
    return client.post(URL, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def anthropic(settings, anthropic_upstream, monkeypatch):
    """Configure provider ``anthropic`` on the fake, key from the environment."""
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY", anthropic_upstream.api_key)
    monkeypatch.delenv("AI_ANTHROPIC_API_KEY_SECRET", raising=False)
    settings.AI_PROVIDERS = {
        **settings.AI_PROVIDERS,
        "anthropic": {
            "kind": "anthropic",
            "base_url": anthropic_upstream.url,
            "connect_timeout": 1.0,
            "read_timeout": 1.0,
            "max_retries": 1,
            "options": {"retry_backoff": 0},
        },
    }
    providers.cache_clear()
    keys.cache_clear()
    AIModelFactory(name="claude", provider="anthropic", upstream_model="claude-x")
    return anthropic_upstream


@pytest.fixture
def bedrock_model(settings, bedrock_upstream):
    """Configure provider ``bedrock`` on the fake Bedrock Runtime."""
    settings.AI_PROVIDERS = {
        **settings.AI_PROVIDERS,
        "bedrock": {
            "kind": "bedrock",
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "max_retries": 1,
            "options": {"region": "us-east-1", "retry_backoff": 0},
        },
    }
    providers.cache_clear()
    AIModelFactory(
        name="haiku-bedrock",
        provider="bedrock",
        upstream_model="anthropic.claude-3-haiku-20240307-v1:0",
    )
    return bedrock_upstream


def test_chat_completion_anthropic_answer_in_openai_shape(auth_client, user, anthropic):
    """An Anthropic answer comes back as a chat.completion with its usage."""
    response = _post(
        auth_client, {"model": "claude", "messages": MESSAGES, "max_tokens": 64}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "claude"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": ANTHROPIC_REPLY,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == len(ANTHROPIC_REPLY.split())
    sent = anthropic.requests[0]["body"]
    assert (sent["model"], sent["system"], sent["max_tokens"]) == (
        "claude-x",
        "Be brief.",
        64,
    )
    record = UsageRecord.objects.get()
    assert (record.provider, record.status) == ("anthropic", "ok")
    counter = QuotaCounter.objects.get(user=user)
    assert counter.reserved_tokens == 0
    assert counter.used_tokens == body["usage"]["total_tokens"]


def test_chat_completion_anthropic_max_tokens_finish_length(auth_client, anthropic):
    """Anthropic's ``max_tokens`` stop reason is ``length`` to the client."""
    response = _post(
        auth_client, {"model": "claude", "messages": MESSAGES, "max_tokens": 3}
    )

    assert response.status_code == 200
    assert response.json()["choices"][0]["finish_reason"] == "length"
    assert response.json()["usage"]["completion_tokens"] == 3


def test_chat_completion_anthropic_auth_error_502_key_hidden(
    auth_client, anthropic, monkeypatch, caplog
):
    """A rejected key is 502 ``upstream_error``; neither key nor prompt leaks."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY", "sk-ant-wrong-SECRET-9876543210")

    response = _post(auth_client, {"model": "claude", "messages": MESSAGES})

    assert response.status_code == 502
    assert response.json() == {
        "detail": "The AI provider failed: anthropic: authentication_error: "
        "invalid x-api-key",
        "code": "upstream_error",
    }
    for text in (caplog.text, response.content.decode()):
        assert "SECRET" not in text
        assert PROMPT not in text
    assert UsageRecord.objects.get().error_code == "upstream_error"


def test_chat_completion_anthropic_overloaded_twice_502_nothing_charged(
    auth_client, user, anthropic
):
    """Two 529s (one retry) are a 502; the quota is not charged."""
    anthropic.fail_next = [(529, "overloaded_error", "Overloaded")] * 2

    response = _post(auth_client, {"model": "claude", "messages": MESSAGES})

    assert response.status_code == 502
    assert response.json()["code"] == "upstream_error"
    assert len(anthropic.requests) == 2
    counter = QuotaCounter.objects.get(user=user)
    assert (counter.reserved_tokens, counter.used_tokens) == (0, 0)


def test_chat_completion_anthropic_hang_504(auth_client, anthropic):
    """An Anthropic upstream that never answers is 504 ``upstream_timeout``."""
    anthropic.hang = True

    response = _post(auth_client, {"model": "claude", "messages": MESSAGES})

    assert response.status_code == 504
    assert response.json() == {
        "detail": "The AI provider did not answer in time.",
        "code": "upstream_timeout",
    }


def test_chat_completion_anthropic_without_key_503(auth_client, anthropic, monkeypatch):
    """No key for Anthropic anywhere: 503 ``ai_not_configured``, nothing sent."""
    monkeypatch.delenv("AI_ANTHROPIC_API_KEY")

    response = _post(auth_client, {"model": "claude", "messages": MESSAGES})

    assert response.status_code == 503
    assert response.json() == {
        "detail": "The AI provider is not configured.",
        "code": "ai_not_configured",
    }
    assert anthropic.requests == []


def test_chat_completion_anthropic_key_from_secrets_manager_rotates(
    auth_client, anthropic, moto_server, monkeypatch, settings
):
    """The key comes from Secrets Manager; a rotation is used after the TTL."""
    secrets.cache_clear()
    client = boto3.client("secretsmanager")
    arn = client.create_secret(
        Name=f"quire/ai/{uuid.uuid4()}",
        SecretString=json.dumps({"api_key": "sk-ant-old-key-000"}),
    )["ARN"]
    monkeypatch.delenv("AI_ANTHROPIC_API_KEY")
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY_SECRET", arn)
    settings.AI_KEY_CACHE_TTL = 0.2
    anthropic.api_key = "sk-ant-old-key-000"
    assert (
        _post(auth_client, {"model": "claude", "messages": MESSAGES}).status_code == 200
    )

    client.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"api_key": "sk-ant-new-key-111"})
    )
    anthropic.api_key = "sk-ant-new-key-111"
    time.sleep(0.3)
    response = _post(auth_client, {"model": "claude", "messages": MESSAGES})

    assert response.status_code == 200
    assert anthropic.keys_seen == ["sk-ant-old-key-000", "sk-ant-new-key-111"]
    client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def test_chat_completion_bedrock_answer_in_openai_shape(auth_client, bedrock_model):
    """A Bedrock Converse answer comes back as a chat.completion."""
    response = _post(auth_client, {"model": "haiku-bedrock", "messages": MESSAGES})

    assert response.status_code == 200
    body = response.json()
    assert body["choices"][0]["message"]["content"] == BEDROCK_REPLY
    assert body["usage"]["completion_tokens"] == len(BEDROCK_REPLY.split())
    sent = bedrock_model.requests[0]
    assert sent["model"] == "anthropic.claude-3-haiku-20240307-v1:0"
    assert sent["body"]["system"] == [{"text": "Be brief."}]
    assert UsageRecord.objects.get().provider == "bedrock"


def test_chat_completion_bedrock_validation_error_502(auth_client, bedrock_model):
    """A Bedrock ``ValidationException`` is 502 with its sanitised message."""
    bedrock_model.fail_next = [(400, "ValidationException", "model not enabled")]

    response = _post(auth_client, {"model": "haiku-bedrock", "messages": MESSAGES})

    assert response.status_code == 502
    assert response.json() == {
        "detail": "The AI provider failed: bedrock: ValidationException: "
        "model not enabled",
        "code": "upstream_error",
    }

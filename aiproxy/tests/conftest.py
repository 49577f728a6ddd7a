"""Fixtures of the AI proxy tests: fake upstreams on loopback, provider settings."""

from collections.abc import Iterator

import pytest

from aiproxy import providers
from aiproxy.adapters import bedrock
from aiproxy.tests.fakes.anthropic_upstream import AnthropicUpstream
from aiproxy.tests.fakes.bedrock_upstream import BedrockUpstream
from aiproxy.tests.fakes.openai_upstream import FakeOpenAIUpstream


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[FakeOpenAIUpstream]:
    server = FakeOpenAIUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def openai_upstream(_openai_server: FakeOpenAIUpstream) -> FakeOpenAIUpstream:
    """Return the loopback OpenAI-compatible upstream, healthy and emptied."""
    _openai_server.reset()
    _openai_server.requests.clear()
    _openai_server.cancelled.clear()
    _openai_server.finished.clear()
    return _openai_server


@pytest.fixture(autouse=True)
def ai_settings(settings, openai_upstream, monkeypatch) -> None:
    """Configure a fast mock provider and ``fake`` (openai kind) on loopback."""
    monkeypatch.setenv("AI_FAKE_API_KEY", "sk-test-fake-key-1234567890")
    settings.AI_PROVIDERS = {
        "mock": {"kind": "mock", "options": {"chunk_delay": 0}},
        "fake": {
            "kind": "openai",
            "base_url": openai_upstream.base_url,
            "connect_timeout": 1.0,
            "read_timeout": 1.0,
            "max_retries": 1,
        },
    }
    settings.AI_DB_THREAD_SENSITIVE = True
    settings.AI_TOKENS_PER_MONTH = 1_000_000
    settings.AI_REQUESTS_PER_MINUTE = 1000
    providers.cache_clear()


@pytest.fixture
def anthropic_upstream() -> Iterator[AnthropicUpstream]:
    """Serve a fake Anthropic Messages API on 127.0.0.1 for one test."""
    upstream = AnthropicUpstream().start()
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture
def bedrock_upstream(monkeypatch) -> Iterator[BedrockUpstream]:
    """Serve a fake Bedrock Runtime on 127.0.0.1; point boto3 at it by env."""
    upstream = BedrockUpstream().start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", upstream.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bedrock.cache_clear()
    try:
        yield upstream
    finally:
        upstream.stop()
        bedrock.cache_clear()

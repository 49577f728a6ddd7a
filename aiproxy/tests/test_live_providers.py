"""Anthropic and Bedrock streams through a real ASGI server and the openai SDK."""

import httpx
import pytest

from aiproxy import keys, providers
from aiproxy.models import QuotaCounter
from aiproxy.tests import test_live
from aiproxy.tests.factories import AIModelFactory
from aiproxy.tests.fakes.anthropic_upstream import DEFAULT_REPLY as ANTHROPIC_REPLY
from aiproxy.tests.fakes.bedrock_upstream import DEFAULT_REPLY as BEDROCK_REPLY

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# The live server and SDK fixtures of test_live.py, shared with this module.
ai_server = test_live.ai_server
live = test_live.live
sdk = test_live.sdk
settled = test_live.settled

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Write about the teal otter."},
]


@pytest.fixture
def anthropic(settings, anthropic_upstream, monkeypatch):
    """Configure provider ``anthropic`` on the fake and model ``claude``."""
    monkeypatch.setenv("AI_ANTHROPIC_API_KEY", anthropic_upstream.api_key)
    monkeypatch.delenv("AI_ANTHROPIC_API_KEY_SECRET", raising=False)
    settings.AI_PROVIDERS = {
        **settings.AI_PROVIDERS,
        "anthropic": {
            "kind": "anthropic",
            "base_url": anthropic_upstream.url,
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "max_retries": 1,
        },
    }
    providers.cache_clear()
    keys.cache_clear()
    AIModelFactory(name="claude", provider="anthropic", upstream_model="claude-x")
    return anthropic_upstream


@pytest.fixture
def bedrock_model(settings, bedrock_upstream):
    """Configure provider ``bedrock`` on the fake and model ``haiku-bedrock``."""
    settings.AI_PROVIDERS = {
        **settings.AI_PROVIDERS,
        "bedrock": {
            "kind": "bedrock",
            "connect_timeout": 2.0,
            "read_timeout": 5.0,
            "options": {"region": "us-east-1"},
        },
    }
    providers.cache_clear()
    AIModelFactory(name="haiku-bedrock", provider="bedrock", upstream_model="m-1")
    return bedrock_upstream


def test_live_anthropic_sdk_stream_with_usage(settled, sdk, user, anthropic):
    """The SDK streams an Anthropic answer as OpenAI chunks with usage."""
    chunks = list(
        sdk().chat.completions.create(
            model="claude",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANTHROPIC_REPLY
    assert chunks[-1].usage.completion_tokens == len(ANTHROPIC_REPLY.split())
    record = settled()
    assert (record.status, record.provider, record.is_stream) == (
        "ok",
        "anthropic",
        True,
    )
    assert record.completion_tokens == len(ANTHROPIC_REPLY.split())


def test_live_anthropic_client_disconnect_cancels_upstream(
    settled, live, user, bearer_for, anthropic
):
    """A client leaving mid-stream closes the Anthropic request; output is charged."""
    anthropic.reply = " ".join(["word"] * 200)
    anthropic.chunk_delay = 0.02
    body = {"model": "claude", "messages": MESSAGES, "stream": True, "max_tokens": 300}
    headers = {"Authorization": "Bearer " + bearer_for(user)}
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "POST", live + "/api/v1/ai/chat/completions", json=body, headers=headers
        ) as response,
    ):
        assert response.status_code == 200
        received = 0
        for line in response.iter_lines():
            received += line.startswith("data: ")
            if received >= 5:
                break

    assert anthropic.cancelled.wait(5)
    assert not anthropic.finished.is_set()
    record = settled()
    assert record.status == "cancelled"
    assert 0 < record.completion_tokens < 200
    counter = QuotaCounter.objects.get(user=user)
    assert counter.reserved_tokens == 0


def test_live_bedrock_sdk_stream_with_usage(settled, sdk, bedrock_model):
    """The SDK streams a Bedrock ConverseStream answer with usage."""
    chunks = list(
        sdk().chat.completions.create(
            model="haiku-bedrock",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == BEDROCK_REPLY
    assert chunks[-1].usage.completion_tokens == len(BEDROCK_REPLY.split())
    assert settled().status == "ok"

"""The proxy served by a real ASGI server (uvicorn) on loopback.

The official ``openai`` SDK is the client; the OpenAI-compatible fake
upstream is the provider. These tests see what a deployed AI worker does:
real streaming, client disconnects, logs.
"""

import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import openai
import pytest
import uvicorn

from accounts.tests.factories import UserFactory
from aiproxy.models import QuotaCounter, UsageRecord
from aiproxy.tests.factories import AIModelFactory, UserQuotaFactory
from aiproxy.tests.fakes.hostile_upstream import (
    Exchange,
    HostileUpstream,
    chat_answer,
    response,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SECRET_PROMPT = "Confidential-prompt-7f3a9 about the merger"
KEY = "sk-test-fake-key-1234567890"


@pytest.fixture(scope="module")
def ai_server() -> Iterator[str]:
    """Serve ``project.asgi`` with uvicorn on a free loopback port."""
    from project.asgi import application

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        application, lifespan="off", log_level="warning", loop="asyncio", http="h11"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def live(settings, ai_server) -> str:
    """Return the server URL, serving as in production (DB on a thread pool)."""
    settings.AI_DB_THREAD_SENSITIVE = False
    return ai_server


@pytest.fixture
def sdk(live, user, bearer_for) -> Callable[..., openai.OpenAI]:
    """Return a factory of ``openai.OpenAI`` clients signed in as ``user``."""

    def make(**kwargs) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=live + "/api/v1/ai",
            api_key=bearer_for(user),
            max_retries=0,
            timeout=10,
            **kwargs,
        )

    return make


class _SettleWatcher(logging.Handler):
    """Count settled requests from the service's log line (no DB polling).

    Polling the ledger would read while the server writes, which SQLite's
    shared in-memory test database answers with "table is locked".
    """

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.count = 0
        self.condition = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("ai request "):
            with self.condition:
                self.count += 1
                self.condition.notify_all()

    def wait(self, count: int, timeout: float) -> bool:
        with self.condition:
            return self.condition.wait_for(lambda: self.count >= count, timeout)


@pytest.fixture
def settled() -> Iterator[Callable[..., UsageRecord]]:
    """Return ``settled(n=1)``: wait for n settlements, return the newest row."""
    watcher = _SettleWatcher()
    service_logger = logging.getLogger("aiproxy.services")
    level = service_logger.level
    service_logger.setLevel(logging.INFO)
    service_logger.addHandler(watcher)

    def wait(count: int = 1, timeout: float = 5.0) -> UsageRecord:
        assert watcher.wait(count, timeout), "the request was never settled"
        return UsageRecord.objects.order_by("-created_at").first()

    yield wait
    service_logger.removeHandler(watcher)
    service_logger.setLevel(level)


def test_live_sdk_models_list(sdk):
    """The SDK lists the enabled models."""
    AIModelFactory(name="gpt-live", provider="fake")
    ids = [model.id for model in sdk().models.list()]
    assert "gpt-live" in ids


def test_live_sdk_completion(settled, sdk, user, openai_upstream):
    """The SDK's non-streamed completion works unchanged through the proxy."""
    AIModelFactory(name="gpt-live", provider="fake", upstream_model="up-live")
    answer = sdk().chat.completions.create(
        model="gpt-live", messages=[{"role": "user", "content": "Hi"}], max_tokens=20
    )
    assert answer.choices[0].message.content == "Hello, this is the fake upstream."
    assert answer.usage.total_tokens == 20
    assert openai_upstream.requests[0]["body"]["model"] == "up-live"
    assert settled().status == "ok"


def test_live_sdk_stream_with_usage(settled, sdk, user):
    """The SDK's stream yields the text and a final usage chunk; then settled."""
    AIModelFactory(name="gpt-live", provider="fake")
    stream = sdk().chat.completions.create(
        model="gpt-live",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello, this is the fake upstream."
    assert chunks[-1].usage.completion_tokens == 8
    record = settled()
    assert (record.status, record.completion_tokens, record.is_stream) == (
        "ok",
        8,
        True,
    )
    assert record.ttft_ms is not None
    counter = QuotaCounter.objects.get(user=user)
    assert (counter.reserved_tokens, counter.used_tokens) == (0, 20)


def test_live_sdk_unknown_model_not_found_error(sdk):
    """An unknown model reaches the SDK as NotFoundError with our code."""
    with pytest.raises(openai.NotFoundError) as caught:
        sdk().chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.body["code"] == "model_not_found"


def test_live_sdk_quota_exceeded_rate_limit_error(sdk, user):
    """Over quota reaches the SDK as RateLimitError, with Retry-After."""
    UserQuotaFactory(user=user, tokens_per_month=10)
    AIModelFactory(name="gpt-live", provider="fake")
    with pytest.raises(openai.RateLimitError) as caught:
        sdk().chat.completions.create(
            model="gpt-live", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.body["code"] == "quota_exceeded"
    assert int(caught.value.response.headers["Retry-After"]) > 0


def test_live_two_users_behind_a_hostile_upstream_get_their_own_answers(
    settings, settled, live, bearer_for, monkeypatch
):
    """Interim answers and stray answers of the upstream never reach another user."""

    served = itertools.count()

    def script(exchange: Exchange):
        answer = response(
            chat_answer("for " + exchange.json()["messages"][-1]["content"])
        )
        stray = response(chat_answer("a stray answer"))
        yield b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
        if next(served) % 2:
            yield answer + stray  # in the same read as the answer
        else:
            yield answer
            yield 0.05
            yield stray  # later, on a connection that might be idle in a pool

    upstream = HostileUpstream(script).start()
    try:
        monkeypatch.setenv("AI_HOSTILE_API_KEY", "sk-hostile-test-key")
        settings.AI_PROVIDERS = {
            **settings.AI_PROVIDERS,
            "hostile": {"kind": "openai", "base_url": upstream.url, "max_retries": 0},
        }
        AIModelFactory(name="gpt-hostile", provider="hostile")
        alice, bob = UserFactory(email="alice@example.com"), UserFactory()
        got = []
        for who in (alice, bob, alice, bob):
            client = openai.OpenAI(
                base_url=live + "/api/v1/ai",
                api_key=bearer_for(who),
                max_retries=0,
                timeout=10,
            )
            answer = client.chat.completions.create(
                model="gpt-hostile",
                messages=[{"role": "user", "content": who.email}],
                max_tokens=20,
            )
            got.append(answer.choices[0].message.content)
            time.sleep(0.1)
    finally:
        upstream.stop()
    assert got == [f"for {who.email}" for who in (alice, bob, alice, bob)]
    settled(4)


def test_live_client_disconnect_cancels_upstream_and_settles(
    settled, live, user, bearer_for, openai_upstream
):
    """A client leaving mid-stream cancels the upstream; only output is charged."""
    AIModelFactory(name="gpt-live", provider="fake")
    openai_upstream.pieces = [" word"] * 300
    openai_upstream.chunk_delay = 0.02
    body = {
        "model": "gpt-live",
        "messages": [{"role": "user", "content": "Write a lot."}],
        "stream": True,
        "max_tokens": 300,
    }
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
            if line.startswith("data: "):
                received += 1
            if received >= 5:
                break
    assert openai_upstream.cancelled.wait(5)
    assert not openai_upstream.finished.is_set()
    record = settled()
    assert record.status == "cancelled"
    assert 0 < record.completion_tokens < 300
    counter = QuotaCounter.objects.get(user=user)
    assert counter.reserved_tokens == 0
    assert counter.used_tokens == record.prompt_tokens + record.completion_tokens


def test_live_upstream_cut_mid_stream_error_event_and_partial_charge(
    settled, sdk, user, openai_upstream
):
    """An upstream dropping mid-stream ends the stream with an error; output is charged."""
    AIModelFactory(name="gpt-live", provider="fake")
    openai_upstream.cut_after = 4
    stream = sdk().chat.completions.create(
        model="gpt-live", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    received: list[str] = []

    def consume() -> None:
        for chunk in stream:
            if chunk.choices:
                received.append(chunk.choices[0].delta.content or "")

    with pytest.raises(openai.APIError):
        consume()
    assert "".join(received) == "Hello, this is"
    record = settled()
    assert (record.status, record.error_code) == ("error", "upstream_error")
    assert record.completion_tokens == 4  # "Hello" "," " this" " is", counted here
    assert QuotaCounter.objects.get(user=user).reserved_tokens == 0


def test_live_upstream_failure_before_output_502_nothing_charged(
    sdk, user, openai_upstream
):
    """A stream failing before any output is a 502 and charges nothing."""
    AIModelFactory(name="gpt-live", provider="fake")
    openai_upstream.status = 500
    with pytest.raises(openai.APIStatusError) as caught:
        sdk().chat.completions.create(
            model="gpt-live", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "upstream_error"
    assert len(openai_upstream.requests) == 2  # one retry before any byte
    counter = QuotaCounter.objects.get(user=user)
    assert (counter.reserved_tokens, counter.used_tokens) == (0, 0)


def test_live_no_prompt_or_key_in_logs(
    settled, sdk, user, openai_upstream, caplog, capfd
):
    """Neither the prompt, the answer, the bearer token nor the key is logged."""
    caplog.set_level(logging.DEBUG)
    AIModelFactory(name="gpt-live", provider="fake")
    openai_upstream.pieces = ["Secret-answer-b41c"]
    client = sdk()
    client.chat.completions.create(
        model="gpt-live", messages=[{"role": "user", "content": SECRET_PROMPT}]
    )
    list(
        client.chat.completions.create(
            model="gpt-live",
            messages=[{"role": "user", "content": SECRET_PROMPT}],
            stream=True,
        )
    )
    openai_upstream.status = 401
    openai_upstream.error_message = "Invalid key " + KEY
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(
            model="gpt-live", messages=[{"role": "user", "content": SECRET_PROMPT}]
        )
    settled(3)
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert "ai request model=gpt-live" in logged
    for secret in (SECRET_PROMPT, "Secret-answer-b41c", KEY, client.api_key):
        assert secret not in logged

"""The upstream HTTP client against hostile servers on loopback.

Every test drives the OpenAI-compatible adapter (what the proxy runs) over a
real TCP connection to ``HostileUpstream``, which sends exactly the bytes a
broken or hostile upstream would.
"""

import asyncio
import datetime
import ipaddress
import json
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aiproxy import providers
from aiproxy.adapters.base import (
    ChatRequest,
    ProviderConfig,
    ProviderNotConfigured,
    StreamDelta,
    UpstreamError,
    UpstreamTimeout,
)
from aiproxy.adapters.openai_compat import OpenAICompatProvider
from aiproxy.adapters.upstream import UpstreamClient, join_url
from aiproxy.tests.fakes.hostile_upstream import (
    CLOSE,
    Exchange,
    HostileUpstream,
    Script,
    chat_answer,
    echo,
    gzipped,
    response,
    sse_stream,
)
from project.version import VERSION

USERS = ["alice", "bob", "carol"]
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture
def hostile() -> Iterator[Callable[..., HostileUpstream]]:
    """Return a factory of started hostile servers, all stopped after the test."""
    started: list[HostileUpstream] = []

    def start(script: Script, **kwargs) -> HostileUpstream:
        server = HostileUpstream(script, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def _no_proxy_variables(monkeypatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def provider(base_url: str, **overrides) -> OpenAICompatProvider:
    """Return an OpenAI-compatible adapter for ``base_url``, short timeouts."""
    options = overrides.pop("options", {})
    config = {
        "name": "hostile",
        "kind": "openai",
        "base_url": base_url,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "total_timeout": 10.0,
        "max_retries": 0,
        "options": options,
        "api_key": lambda: "sk-hostile-test-key",
        **overrides,
    }
    return OpenAICompatProvider(ProviderConfig(**config))


def ask(question: str) -> ChatRequest:
    return ChatRequest(
        model="up-1",
        messages=[{"role": "user", "content": question}],
        max_tokens=50,
    )


def answers_in_a_row(adapter, *, pause: float = 0.0) -> list[str]:
    """Ask one question per user, one after the other; return what each got."""

    async def run() -> list[str]:
        got = []
        try:
            for user in USERS:
                try:
                    got.append((await adapter.complete(ask(user))).content)
                except UpstreamError as exc:
                    got.append("error: " + exc.message)
                await asyncio.sleep(pause)
        finally:
            await adapter.aclose()
        return got

    return asyncio.run(run())


def stream(adapter, request: ChatRequest, limit: int = 10_000):
    """Return the deltas streamed (at most ``limit``) and the error raised."""

    async def run() -> tuple[list[StreamDelta], UpstreamError | None]:
        deltas: list[StreamDelta] = []
        deltas_iter = adapter.stream(request)
        try:
            async for delta in deltas_iter:
                deltas.append(delta)
                if len(deltas) >= limit:
                    break
        except UpstreamError as exc:
            return deltas, exc
        finally:
            await deltas_iter.aclose()
            await adapter.aclose()
        return deltas, None

    return asyncio.run(run())


def chunk_event(content: str, finish: str | None = None) -> bytes:
    delta = {"content": content} if content else {}
    return (
        b'data: {"choices":[{"index":0,"delta":'
        + json.dumps(delta, ensure_ascii=False).encode()
        + b',"finish_reason":'
        + (b'"%s"' % finish.encode() if finish else b"null")
        + b"}]}\n\n"
    )


# -- no byte of one exchange reaches another ----------------------------------------


def test_interim_responses_then_answer_each_user_gets_their_own(hostile):
    """``100 Continue`` and ``103 Early Hints`` before the 200 are skipped."""

    def script(exchange: Exchange):
        yield b"HTTP/1.1 100 Continue\r\n\r\n"
        yield b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
        yield 0.02
        yield echo(exchange)

    server = hostile(script)

    got = answers_in_a_row(provider(server.url + "/v1"))

    assert got == ["answer for alice", "answer for bob", "answer for carol"]


def test_stray_answer_in_the_same_read_reaches_nobody(hostile):
    """A second answer sent right after the first is never given to the next user."""
    server = hostile(lambda ex: [echo(ex) + response(chat_answer("STRAY"))])

    got = answers_in_a_row(provider(server.url + "/v1"))

    assert got == ["answer for alice", "answer for bob", "answer for carol"]


def test_stray_answer_on_an_idle_connection_reaches_nobody(hostile):
    """An answer pushed later, on a connection the client is done with, is lost."""
    server = hostile(lambda ex: [echo(ex), 0.05, response(chat_answer("STRAY"))])

    got = answers_in_a_row(provider(server.url + "/v1"), pause=0.15)

    assert got == ["answer for alice", "answer for bob", "answer for carol"]


def test_bytes_after_an_answer_fail_only_that_exchange(hostile):
    """Garbage after a complete answer breaks that exchange, never the next one."""
    calls = iter(range(100))

    def script(exchange: Exchange):
        if next(calls) == 0:
            return [echo(exchange) + b"garbage-for-the-next-user"]
        return [echo(exchange)]

    server = hostile(script)

    got = answers_in_a_row(provider(server.url + "/v1"))

    assert got == [
        "error: The upstream sent a malformed or oversized response.",
        "answer for bob",
        "answer for carol",
    ]


def test_every_exchange_has_its_own_connection(hostile):
    """Each request opens its own connection and asks it to close afterwards."""
    server = hostile(lambda ex: [echo(ex)])

    answers_in_a_row(provider(server.url + "/v1"))

    assert [e.connection for e in server.exchanges] == [0, 1, 2]
    assert {e.headers["connection"] for e in server.exchanges} == {"close"}


def test_fifty_concurrent_requests_through_ten_connections_all_succeed(hostile):
    """50 at once with ``max_connections`` 10: all answered, at most 10 open."""
    lock = threading.Lock()
    waiting = {"now": 0, "most": 0}

    def script(exchange: Exchange):
        with lock:
            waiting["now"] += 1
            waiting["most"] = max(waiting["most"], waiting["now"])
        yield 0.05
        with lock:
            waiting["now"] -= 1
        yield echo(exchange)

    server = hostile(script)
    adapter = provider(server.url + "/v1", options={"max_connections": 10})
    users = [f"user-{n}" for n in range(50)]

    async def run() -> list[str]:
        try:
            results = await asyncio.gather(*(adapter.complete(ask(u)) for u in users))
        finally:
            await adapter.aclose()
        return [result.content for result in results]

    assert asyncio.run(run()) == [f"answer for {user}" for user in users]
    assert len(server.exchanges) == 50
    assert waiting["most"] == 10  # requests held by the upstream at once


# -- limits ---------------------------------------------------------------------------


def test_one_mib_header_refused(hostile):
    """A response header of 1 MiB ends the call with 502, not a memory spike."""
    big = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n"
    server = hostile(lambda ex: [big + b"Content-Length: 2\r\n\r\n{}"])

    got = answers_in_a_row(provider(server.url + "/v1"))

    assert got == ["error: The upstream sent a malformed or oversized response."] * 3


def test_endless_headers_refused(hostile):
    """Header after header without an end is refused after a bounded count."""
    many = b"HTTP/1.1 200 OK\r\n" + b"X-More: 1\r\n" * 100_000
    server = hostile(lambda ex: [many, CLOSE])

    got = answers_in_a_row(provider(server.url + "/v1"))

    assert got == ["error: The upstream sent a malformed or oversized response."] * 3


def test_endless_body_capped(hostile, settings):
    """A body that never ends is cut at AI_UPSTREAM_MAX_RESPONSE_BYTES: 502."""
    settings.AI_UPSTREAM_MAX_RESPONSE_BYTES = 1024 * 1024
    piece = b"%x\r\n%s\r\n" % (65536, b" " * 65536)

    def script(exchange: Exchange):
        yield b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        for _ in range(2000):  # 128 MiB at most, if nothing stopped it
            yield piece

    server = hostile(script)

    got = answers_in_a_row(provider(server.url + "/v1"))

    assert got == ["error: Upstream answer too large."] * 3
    assert server.client_gone.wait(5)


def test_declared_length_over_the_cap_refused_before_reading(hostile, settings):
    """A ``Content-Length`` past the cap is refused without reading the body."""
    settings.AI_UPSTREAM_MAX_RESPONSE_BYTES = 1024
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n"
    server = hostile(lambda ex: [head, 5.0])

    got = answers_in_a_row(provider(server.url + "/v1"))

    assert got == ["error: Upstream answer too large."] * 3


def test_stream_line_past_one_mib_refused(hostile):
    """One event line longer than 1 MiB ends the stream with an error."""
    line = b"data: " + b"a" * (1024 * 1024 + 10)
    server = hostile(lambda ex: [sse_stream([line, b"\n\n"])])

    deltas, error = stream(provider(server.url + "/v1"), ask("alice"))

    assert deltas == []
    assert error.message == "Upstream answer too large."


def test_total_deadline_ends_a_trickling_stream(hostile):
    """An answer that keeps trickling under the read timeout stops at the deadline."""

    def script(exchange: Exchange):
        yield b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
        for _ in range(100):
            yield chunk_event("x")
            yield 0.05

    server = hostile(script)
    adapter = provider(server.url + "/v1", total_timeout=0.5, read_timeout=2.0)

    deltas, error = stream(adapter, ask("alice"))

    assert isinstance(error, UpstreamTimeout)
    assert error.message == "Upstream did not finish before the deadline."
    assert 0 < len(deltas) < 100


# -- what is sent, and how ------------------------------------------------------------


def test_gzip_answer_decoded(hostile):
    """A gzip-encoded answer is decoded; gzip is offered in ``Accept-Encoding``."""
    server = hostile(lambda ex: [gzipped(chat_answer("zipped, then unzipped"))])

    got = answers_in_a_row(provider(server.url + "/v1"))

    assert got == ["zipped, then unzipped"] * 3
    assert "gzip" in server.exchanges[0].headers["accept-encoding"]


def test_azure_style_base_url_keeps_its_query(hostile):
    """A base URL with ``?api-version=`` gets the path before the query."""
    server = hostile(lambda ex: [echo(ex)])
    base = server.url + "/openai/deployments/dep-1?api-version=2024-06-01"

    answers_in_a_row(provider(base))

    assert server.exchanges[0].target == (
        "/openai/deployments/dep-1/chat/completions?api-version=2024-06-01"
    )


@pytest.mark.parametrize(
    ("base", "path", "joined"),
    [
        ("https://h/v1", "chat/completions", "https://h/v1/chat/completions"),
        ("https://h/v1/", "/chat/completions", "https://h/v1/chat/completions"),
        ("https://h", "/v1/messages", "https://h/v1/messages"),
        ("https://h/a?x=1&y=2#frag", "b", "https://h/a/b?x=1&y=2"),
    ],
)
def test_join_url_puts_the_path_before_the_query(base, path, joined):
    """The path goes under the base path; the query stays; a fragment goes."""
    assert join_url(base, path) == joined


def test_user_agent_names_quire_and_its_version(hostile):
    """Every request says ``User-Agent: quire/<version>``."""
    server = hostile(lambda ex: [echo(ex)])

    answers_in_a_row(provider(server.url + "/v1"))

    assert server.exchanges[0].headers["user-agent"] == "quire/" + VERSION


def test_version_matches_pyproject():
    """``project.version.VERSION`` is the version in ``pyproject.toml``."""
    import tomllib

    root = Path(__file__).resolve().parents[2]
    with (root / "pyproject.toml").open("rb") as file:
        assert tomllib.load(file)["project"]["version"] == VERSION


def test_key_with_crlf_refused_when_the_provider_is_configured(
    hostile, settings, monkeypatch
):
    """A key holding CR/LF fails the system check and is never sent."""
    server = hostile(lambda ex: [echo(ex)])
    monkeypatch.setenv("AI_EVIL_API_KEY", "sk-real\r\nX-Injected: yes")
    settings.AI_PROVIDERS = {"evil": {"kind": "openai", "base_url": server.url}}

    messages = providers.check_providers()

    assert [(m.id, m.msg) for m in messages] == [
        (
            "aiproxy.E001",
            "AI_EVIL_API_KEY holds a line break or another control character.",
        )
    ]
    assert "sk-real" not in str(messages)
    with pytest.raises(ProviderNotConfigured):
        asyncio.run(providers.provider_get("evil").complete(ask("alice")))
    assert server.exchanges == []


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"kind": "openai", "base_url": "ftp://files.example/v1"}, "BASE_URL"),
        (
            {
                "kind": "anthropic",
                "options": {"ca_bundle": "/nonexistent/ca.pem"},
            },
            "CA_BUNDLE",
        ),
    ],
)
def test_check_reports_settings_that_cannot_work(settings, raw, problem):
    """A base URL that is not http(s) or an unreadable CA bundle is an error."""
    settings.AI_PROVIDERS = {"broken": raw}

    messages = providers.check_providers()

    assert [m.id for m in messages] == ["aiproxy.E002"]
    assert messages[0].msg.startswith("AI_BROKEN_" + problem)


def test_header_with_crlf_refused_when_the_client_is_built():
    """A configured header value with a line break refuses the provider."""
    with pytest.raises(ProviderNotConfigured):
        UpstreamClient(
            provider="evil",
            base_url="http://127.0.0.1:9/v1",
            headers={"X-Tenant": "a\r\nX-Injected: yes"},
            connect_timeout=1,
            read_timeout=1,
            total_timeout=1,
            max_connections=1,
        )


# -- TLS ------------------------------------------------------------------------------


@pytest.fixture
def tls_server_context(tmp_path) -> tuple[ssl.SSLContext, Path]:
    """Return a server TLS context signed by a fresh CA, and the CA's PEM file."""
    now = datetime.datetime.now(datetime.UTC)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Quire test CA"))
        .issuer_name(name("Quire test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    return context, ca_file


def test_https_with_the_ca_bundle_setting_answers(
    hostile, tls_server_context, settings, monkeypatch
):
    """``AI_<NAME>_CA_BUNDLE`` trusts a private CA for that provider."""
    monkeypatch.setenv("AI_PRIVATE_API_KEY", "sk-private-test")
    context, ca_file = tls_server_context
    server = hostile(lambda ex: [echo(ex)], tls=context)
    settings.AI_PROVIDERS = {
        "private": {
            "kind": "openai",
            "base_url": server.url + "/v1",
            "options": {"ca_bundle": str(ca_file)},
        }
    }
    providers.cache_clear()

    async def run() -> str:
        return (await providers.provider_get("private").complete(ask("alice"))).content

    assert asyncio.run(run()) == "answer for alice"


def test_https_without_the_ca_bundle_refused(hostile, tls_server_context, monkeypatch):
    """Without the setting the private CA is not trusted: 502, nothing read."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    context, _ = tls_server_context
    server = hostile(lambda ex: [echo(ex)], tls=context)

    got = answers_in_a_row(provider(server.url + "/v1"))

    assert got == ["error: Upstream TLS certificate not trusted."] * 3
    assert server.exchanges == []


def test_unreadable_ca_bundle_refuses_the_provider(tmp_path):
    """A CA bundle that is not PEM is a configuration error, named in the check."""
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("not a certificate")
    with pytest.raises(ProviderNotConfigured):
        provider("https://127.0.0.1:9/v1", options={"ca_bundle": str(bundle)})


# -- cancel ---------------------------------------------------------------------------


def test_closing_the_stream_closes_the_upstream_connection(hostile):
    """A consumer leaving mid-stream closes the connection; the upstream sees it."""

    def script(exchange: Exchange):
        yield b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
        for _ in range(400):
            yield chunk_event("word ")
            yield 0.01

    server = hostile(script)

    deltas, error = stream(provider(server.url + "/v1"), ask("alice"), limit=2)

    assert (len(deltas), error) == (2, None)
    assert server.client_gone.wait(5)


# -- proxies --------------------------------------------------------------------------


def test_http_proxy_variable_sends_through_the_proxy(hostile, monkeypatch):
    """``HTTP_PROXY`` is honoured: the request goes to the proxy, absolute-form."""
    proxy = hostile(lambda ex: [echo(ex)])
    monkeypatch.setenv("HTTP_PROXY", proxy.url)

    got = answers_in_a_row(provider("http://upstream.invalid:8000/v1"))

    assert got[0] == "answer for alice"
    assert (
        proxy.exchanges[0].target == "http://upstream.invalid:8000/v1/chat/completions"
    )


def test_proxy_down_is_an_unreachable_upstream(monkeypatch):
    """A proxy nobody listens on ends the call with 502, nothing hangs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")

    got = answers_in_a_row(provider("http://upstream.invalid:8000/v1"))

    assert got == ["error: Upstream could not be reached."] * 3


def test_no_proxy_alone_goes_straight(hostile, monkeypatch):
    """``NO_PROXY`` without a proxy changes nothing: same client, no proxy."""
    server = hostile(lambda ex: [echo(ex)])
    monkeypatch.setenv("NO_PROXY", "example.com")
    adapter = provider(server.url + "/v1")

    assert adapter.client.proxy is None
    assert answers_in_a_row(adapter)[0] == "answer for alice"


def test_no_proxy_host_bypasses_the_proxy(hostile, monkeypatch):
    """A host listed in ``NO_PROXY`` is reached straight, proxy or not."""
    server = hostile(lambda ex: [echo(ex)])
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    assert answers_in_a_row(provider(server.url + "/v1"))[0] == "answer for alice"


def test_socks_all_proxy_refused_clearly_not_crashing(settings, monkeypatch, caplog):
    """``ALL_PROXY=socks5://`` warns at start-up; the provider answers 503."""
    monkeypatch.setenv("ALL_PROXY", "socks5://user:secret@127.0.0.1:1080")
    settings.AI_PROVIDERS = {
        "remote": {"kind": "openai", "base_url": "https://api.example.com/v1"}
    }
    caplog.set_level(logging.ERROR)

    messages = providers.check_providers()

    assert [m.id for m in messages] == ["aiproxy.W001"]
    assert "ALL_PROXY names a socks5:// proxy" in messages[0].msg
    with pytest.raises(ProviderNotConfigured):
        providers.provider_get("remote")
    assert "ALL_PROXY names a socks5:// proxy" in caplog.text
    assert "secret" not in caplog.text + str(messages)


# -- text kept ------------------------------------------------------------------------


def test_stream_keeps_unicode_line_separators(hostile):
    """U+2028, U+2029, U+0085 and a form feed in a delta reach the caller."""
    text = ["one\u2028two", "\u2029three", "\u0085four\x0cfive"]
    events = [chunk_event(piece) for piece in text] + [chunk_event("", "stop")]
    server = hostile(lambda ex: [sse_stream([*events, b"data: [DONE]\r\n\r\n"])])

    deltas, error = stream(provider(server.url + "/v1"), ask("alice"))

    assert error is None
    assert [d.content for d in deltas[:-1]] == text
    assert deltas[-1].finish_reason == "stop"

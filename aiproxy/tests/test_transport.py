"""The lean upstream HTTP client (``aiproxy.adapters.transport``) on loopback."""

import asyncio
import json
from collections.abc import AsyncIterator

import httpx

from aiproxy.adapters.transport import (
    HttpxClient,
    LeanClient,
    UpstreamResponse,
    upstream_client,
)

TIMEOUT = httpx.Timeout(2.0)
LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=10)
BODY = {"model": "up-1", "messages": [{"role": "user", "content": "Grüße"}]}


def _client(base_url: str):
    return upstream_client(
        base_url, timeout=TIMEOUT, limits=LIMITS, headers={"Accept": "application/json"}
    )


def _post(client, body: dict = BODY) -> tuple[int, dict]:
    async def go() -> tuple[int, dict]:
        try:
            response = await client.post(
                "chat/completions",
                body=json.dumps(body).encode(),
                headers={"Authorization": "Bearer sk-test"},
            )
            return response.status_code, json.loads(await response.aread())
        finally:
            await client.aclose()

    return asyncio.run(go())


class _Parts(httpx.AsyncByteStream):
    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part

    async def aclose(self) -> None:
        self.closed = True


def test_lean_client_without_proxy_variables(monkeypatch):
    """With no proxy in the environment, the lean client is used."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(_client("http://127.0.0.1:1/v1"), LeanClient)


def test_httpx_client_behind_a_proxy(monkeypatch):
    """Proxy variables set: ``httpx``, which implements proxies, is used."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert isinstance(_client("https://api.example.com/v1"), HttpxClient)


def test_lean_client_sends_host_headers_and_body(openai_upstream):
    """Host, Content-Type, Content-Length and the caller's headers are sent."""
    status, data = _post(
        LeanClient(openai_upstream.base_url, timeout=TIMEOUT, limits=LIMITS, headers={})
    )
    assert status == 200
    assert data["object"] == "chat.completion"
    sent = openai_upstream.requests[0]
    host = openai_upstream.base_url.split("//")[1].split("/")[0]
    assert sent["headers"]["Host"] == host
    assert sent["headers"]["Content-Type"] == "application/json"
    assert sent["headers"]["Authorization"] == "Bearer sk-test"
    assert sent["body"] == BODY


def test_httpx_client_same_exchange(openai_upstream, monkeypatch):
    """The ``httpx`` client (proxies bypassed for loopback) answers the same."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    status, data = _post(_client(openai_upstream.base_url))
    assert status == 200
    assert data["object"] == "chat.completion"
    assert openai_upstream.requests[0]["body"] == BODY


def test_lines_split_across_parts_and_crlf():
    """Lines are rebuilt across reads; ``\\r\\n`` and a last unended line count."""
    stream = _Parts([b"data: a\r", b"\ndata: b", b"c\n\ndata: \xc3", b"\xa9"])
    response = UpstreamResponse(200, [], stream)

    async def lines() -> list[str]:
        return [line async for line in response.aiter_lines()]

    assert asyncio.run(lines()) == ["data: a", "data: bc", "", "data: é"]


def test_aread_gives_the_body_and_closes():
    """``aread`` joins the body and releases the connection."""
    stream = _Parts([b'{"a":', b" 1}"])
    body = asyncio.run(UpstreamResponse(200, [], stream).aread())
    assert json.loads(body) == {"a": 1}
    assert stream.closed

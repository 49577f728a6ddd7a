"""The HTTP client of the OpenAI-compatible and Anthropic adapters (aiohttp).

One :class:`UpstreamClient` per adapter instance, so one ``aiohttp`` session
per provider and event loop (``aiproxy.providers`` builds adapters per
loop), opened on first use. What this module decides, on top of aiohttp:

- **One exchange per connection.** The connector runs with
  ``force_close=True`` (and so sends ``Connection: close``): every request
  gets its own connection, closed once its answer is read or abandoned.
  Pooled keep-alive connections let bytes that one answer left behind
  become another user's answer: aiohttp 3.14 queues a response that arrives
  on an idle pooled connection and hands it to the next request; httpx 0.28
  keeps bytes that came after an answer in the same read and parses them as
  the next answer. Neither exposes a public way to refuse such bytes, so no
  connection is reused (BENCHMARKS.md, under "Decisions", has the cost: a
  connect per call, and a TLS handshake for ``https``). Told to close, the
  upstream mostly closes first, so TIME_WAIT stays on its side (95 % of 500
  calls on loopback).
- **Limits.** Response header lines and fields are capped (``max_line_size``,
  ``max_field_size``, ``max_headers``); a whole answer, decoded, is capped
  by ``AI_UPSTREAM_MAX_RESPONSE_BYTES``; one server-sent-event line by
  ``aiproxy.adapters.sse.MAX_LINE_BYTES``.
- **Timeouts.** Connect (pool wait included), read (the longest silence)
  and a total deadline per request, from the provider's settings.
- **Headers.** ``User-Agent: quire/<version>``; a header value holding a
  line break or another control character is refused before anything is
  sent (at configuration time for the static ones).
- **Trust.** A provider's ``ca_bundle`` replaces the default store for that
  provider; otherwise ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set, else
  certifi's bundle (what httpx trusted before).
- **Proxies.** ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` and
  ``NO_PROXY`` are read once, when the client is built, with the standard
  library's ``urllib.request.getproxies``/``proxy_bypass`` (what aiohttp's
  ``trust_env`` uses, minus its two thread hops per request and its
  ``~/.netrc`` look-up), and the proxy is passed per request. Only
  ``http://`` proxies are supported (aiohttp tunnels ``https`` through them);
  a SOCKS or ``https://`` proxy refuses the provider with a clear log line
  instead of being ignored or crashing.

Failures raise :class:`TransportError` subclasses; adapters map them to
``UpstreamError``/``UpstreamTimeout`` and retry only :class:`ConnectError`
and :class:`ConnectTimeout` (nothing reached the upstream).
"""

import functools
import logging
import os
import re
import ssl
import urllib.request
import weakref
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

import aiohttp
import certifi
from yarl import URL

from aiproxy.adapters.base import ProviderNotConfigured
from aiproxy.adapters.sse import SSEDecoder, SSEEvent, SSELineTooLong
from project.version import VERSION

logger = logging.getLogger(__name__)

USER_AGENT = "quire/" + VERSION
MAX_LINE_SIZE = 8190  # status line and each header line, as aiohttp's default
MAX_FIELD_SIZE = 16 * 1024  # one header field
MAX_HEADERS = 128
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024

_UNSAFE_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # controls but HTAB
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class TransportError(Exception):
    """The exchange with the upstream failed; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectError(TransportError):
    """No connection could be made: the request never left."""


class ConnectTimeout(TransportError):
    """No connection (or free slot) in time: the request never left."""


class TLSError(ConnectError):
    """The TLS handshake failed (an untrusted certificate, most often)."""


class ReadTimeout(TransportError):
    """The upstream stayed silent longer than the read timeout."""


class DeadlineExceeded(ReadTimeout):
    """The whole exchange took longer than the total deadline."""


class ProtocolError(TransportError):
    """The upstream broke HTTP: a malformed or oversized head, a cut body."""


class AnswerTooLarge(ProtocolError):
    """The answer (or one event line) is larger than allowed."""


def header_problem(name: str, value: str) -> str | None:
    """Return why ``name: value`` cannot be sent, or None if it can."""
    if not _TOKEN.fullmatch(name):
        return "invalid header name"
    if _UNSAFE_VALUE.search(value):
        return "a line break or control character in the value of " + name
    return None


def join_url(base_url: str, path: str) -> str:
    """Return ``path`` under ``base_url``, keeping the base URL's query.

    ``https://x.openai.azure.com/openai/deployments/d?api-version=1`` and
    ``chat/completions`` give ``.../deployments/d/chat/completions?api-version=1``.
    """
    parts = urlsplit(base_url)
    joined = parts.path.rstrip("/") + "/" + path.lstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, joined, parts.query, ""))


def env_prefix(provider: str) -> str:
    """Return the settings prefix of ``provider`` (``AI_<NAME>_``)."""
    return "AI_" + provider.upper().replace("-", "_") + "_"


def proxy_for(url: URL) -> tuple[URL | None, str | None]:
    """Return ``(proxy URL, None)`` for ``url``, or ``(None, problem)``.

    ``(None, None)``: no proxy. The problem names the variable, never its
    value (a proxy URL may carry credentials).
    """
    proxies = urllib.request.getproxies()
    if not proxies or (url.host and urllib.request.proxy_bypass(url.host)):
        return None, None
    variable = url.scheme.upper() + "_PROXY"
    chosen = proxies.get(url.scheme)
    if not chosen:
        variable, chosen = "ALL_PROXY", proxies.get("all")
    if not chosen:
        return None, None
    if "://" not in chosen:
        chosen = "http://" + chosen
    scheme = chosen.split("://", 1)[0].lower()
    if scheme != "http":
        return None, (
            variable + " names a " + scheme + ":// proxy; the AI upstream client "
            "supports http:// proxies only (they tunnel https)"
        )
    return URL(chosen), None


@functools.lru_cache(maxsize=8)
def ssl_context(ca_bundle: str, cert_file: str, cert_dir: str) -> ssl.SSLContext:
    """Return the verifying TLS context for one trust configuration.

    ``cert_file``/``cert_dir`` are ``SSL_CERT_FILE``/``SSL_CERT_DIR`` (part of
    the cache key so a change is seen after ``ssl_context.cache_clear()``).
    """
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    if cert_file or cert_dir:
        return ssl.create_default_context()  # OpenSSL reads both variables
    return ssl.create_default_context(cafile=certifi.where())


def _ssl_context_for(ca_bundle: str) -> ssl.SSLContext:
    return ssl_context(
        ca_bundle,
        os.environ.get("SSL_CERT_FILE", ""),
        os.environ.get("SSL_CERT_DIR", ""),
    )


def configuration_problem(
    *,
    provider: str,
    base_url: str,
    headers: Mapping[str, str],
    ca_bundle: str = "",
    check_proxy: bool = True,
) -> str | None:
    """Return why a client for these settings cannot work, or None.

    Checked when a provider's adapter is built and by the ``aiproxy`` system
    check; the text names settings and variables, never their values.
    """
    prefix = env_prefix(provider)
    try:
        base = URL(base_url)
    except ValueError:
        base = None
    if base is None or base.scheme not in ("http", "https") or not base.host:
        return prefix + "BASE_URL is not an http(s) URL"
    for name, value in headers.items():
        problem = header_problem(name, value)
        if problem:
            return problem
    _, problem = proxy_for(base) if check_proxy else (None, None)
    if problem:
        return problem
    if base.scheme == "https" or ca_bundle:
        try:
            _ssl_context_for(ca_bundle)
        except (OSError, ssl.SSLError):
            return prefix + "CA_BUNDLE cannot be read as PEM certificates"
    return None


def _not_configured(provider: str, reason: str) -> ProviderNotConfigured:
    logger.error("AI provider %s is not usable: %s", provider, reason)
    return ProviderNotConfigured(provider)


def transport_error(exc: Exception) -> TransportError | None:
    """Return the :class:`TransportError` for an aiohttp failure, or None."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return TLSError("The upstream's TLS certificate is not trusted.")
    if isinstance(exc, aiohttp.ClientSSLError):
        return TLSError("The TLS handshake with the upstream failed.")
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return ConnectError("Cannot connect to the proxy.")
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return ConnectError("The proxy refused the connection to the upstream.")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectError("Cannot connect to the upstream.")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ConnectTimeout("Connecting to the upstream timed out.")
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return ReadTimeout("Reading from the upstream timed out.")
    if isinstance(exc, TimeoutError):
        return DeadlineExceeded("The upstream did not finish before the deadline.")
    if isinstance(exc, aiohttp.ClientResponseError):
        return ProtocolError("The upstream sent a malformed or oversized response.")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return ProtocolError("The upstream's answer was cut or malformed.")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return ProtocolError("The upstream closed the connection.")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return ProtocolError("The connection to the upstream failed.")
    return None


class UpstreamResponse:
    """An answer whose head arrived; read its body, or close it to cancel."""

    __slots__ = ("_response", "_limit", "_received", "status_code", "headers")

    def __init__(self, response: aiohttp.ClientResponse, limit: int) -> None:
        self._response = response
        self._limit = limit
        self._received = 0
        self.status_code = response.status
        self.headers = response.headers

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield the (decoded) body as it arrives, within the size cap."""
        try:
            if (self._response.content_length or 0) > self._limit:
                raise AnswerTooLarge("The upstream's answer is too large.")
            async for chunk in self._response.content.iter_any():
                self._received += len(chunk)
                if self._received > self._limit:
                    raise AnswerTooLarge("The upstream's answer is too large.")
                yield chunk
        except Exception as exc:
            error = transport_error(exc)
            if error is None:
                raise
            raise error from None
        finally:
            self.close()

    async def read(self) -> bytes:
        """Return the whole body (within the size cap), then close."""
        parts = [chunk async for chunk in self.chunks()]
        return b"".join(parts)

    async def events(self) -> AsyncIterator[SSEEvent]:
        """Yield the body's server-sent events (``aiproxy.adapters.sse``)."""
        decoder = SSEDecoder()
        chunks = self.chunks()
        try:
            async for chunk in chunks:
                for event in decoder.feed(chunk):
                    yield event
            decoder.end()
        except SSELineTooLong:
            raise AnswerTooLarge("The upstream sent an event line too long.") from None
        finally:
            await chunks.aclose()

    def close(self) -> None:
        """Close the connection (before the end: cancel the upstream request)."""
        self._response.close()

    async def __aenter__(self) -> "UpstreamResponse":  # noqa: D105
        return self

    async def __aexit__(self, *exc_info: object) -> None:  # noqa: D105
        self.close()


class UpstreamClient:
    """``POST`` JSON to one provider's base URL; see the module docstring."""

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
        max_connections: int,
        ca_bundle: str = "",
    ) -> None:
        problem = configuration_problem(
            provider=provider, base_url=base_url, headers=headers, ca_bundle=ca_bundle
        )
        if problem:
            raise _not_configured(provider, problem)
        base = URL(base_url)
        proxy, _ = proxy_for(base)
        self._proxy_auth = aiohttp.BasicAuth.from_url(proxy) if proxy else None
        self._proxy = proxy.with_user(None) if proxy else None
        self._ssl: ssl.SSLContext | bool = True
        if base.scheme == "https":
            self._ssl = _ssl_context_for(ca_bundle)
        self.provider = provider
        self.base_url = base_url
        self._headers = {"User-Agent": USER_AGENT, **headers}
        self._timeout = aiohttp.ClientTimeout(
            total=total_timeout or None,
            connect=connect_timeout,
            sock_connect=connect_timeout,
            sock_read=read_timeout,
        )
        self._max_connections = max_connections
        self._limit = int(
            getattr(
                settings, "AI_UPSTREAM_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES
            )
        )
        self._urls: dict[str, URL] = {}
        self._session: aiohttp.ClientSession | None = None

    @property
    def proxy(self) -> URL | None:
        """Return the proxy requests go through (None: straight)."""
        return self._proxy

    def url(self, path: str) -> URL:
        """Return the URL of ``path`` under the base URL (computed once)."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(join_url(self.base_url, path))
        return url

    def _open(self) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._max_connections, force_close=True, ssl=self._ssl
            ),
            headers=self._headers,
            timeout=self._timeout,
            cookie_jar=aiohttp.DummyCookieJar(),  # nothing carried between users
            max_line_size=MAX_LINE_SIZE,
            max_field_size=MAX_FIELD_SIZE,
            max_headers=MAX_HEADERS,
        )
        # An adapter dropped with its event loop takes the session along; no
        # connection is ever idle (force_close), so detaching frees it all
        # without aiohttp's "unclosed session" warning.
        weakref.finalize(self, session.detach)
        self._session = session
        return session

    async def post(
        self, path: str, *, body: bytes, headers: Mapping[str, str]
    ) -> UpstreamResponse:
        """Send ``body`` (JSON) to ``path``; return once the answer's head arrived.

        Raise ``ProviderNotConfigured`` for a header that cannot be sent (a
        key holding a line break), :class:`TransportError` on failure.
        """
        for name, value in headers.items():
            problem = header_problem(name, value)
            if problem:
                raise _not_configured(self.provider, problem)
        session = self._session or self._open()
        try:
            response = await session.post(
                self.url(path),
                data=body,
                headers={"Content-Type": "application/json", **headers},
                proxy=self._proxy,
                proxy_auth=self._proxy_auth,
                allow_redirects=False,
            )
        except Exception as exc:
            error = transport_error(exc)
            if error is None:
                raise
            raise error from None
        return UpstreamResponse(response, self._limit)

    async def aclose(self) -> None:
        """Close the session."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

"""A lean HTTP/1.1 client for the upstreams: keep-alive connections on asyncio.

Why: ``httpx``'s default transport (``httpcore`` over ``anyio``) cost about
0.45 ms of CPU per upstream call here, more than the rest of the proxy's
own work; and ``httpx``'s client layer on top (URL merging, ``Request`` and
``Response`` objects, the cookie jar) about 0.3 ms more. This module is
both replaced for the hot path (BENCHMARKS.md, "AI proxy"):

- :class:`LeanTransport` pools connections and speaks HTTP/1.1 with
  ``httptools``; :meth:`LeanTransport.open` is its small API;
- :func:`upstream_client` gives an adapter a :class:`LeanClient` (``POST``
  a body, get an :class:`UpstreamResponse`), or the same interface over
  ``httpx`` when proxy environment variables are set, which the lean
  transport does not implement.

Failures raise the ``httpx`` exceptions ``httpcore`` would
(``ConnectTimeout``, ``ConnectError``, ``PoolTimeout``, ``ReadTimeout``,
``ReadError``, ``WriteError``, ``RemoteProtocolError``), so adapters map
errors the same way on either path.

Scope: plain HTTP/1.1 and TLS, no HTTP/2, no ``Expect: 100-continue``, no
cookies and no redirects (an API upstream needs neither). Closing a
response before its end closes its connection, which is how a client's
disconnect cancels the upstream request.
"""

import asyncio
import collections
import ssl
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

import httptools
import httpx

READ_SIZE = 65536
KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection may be reused (as httpx)

Origin = tuple[str, str, int]


class _Parser:
    """Collect one response from ``httptools`` callbacks."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.keep_alive = False
        self.complete = False
        self.body: list[bytes] = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        # Read here: llhttp forgets it once the message is complete.
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True

    def feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            raise httpx.RemoteProtocolError(
                f"Malformed HTTP response: {type(exc).__name__}"
            ) from None

    def take_body(self) -> bytes:
        data = b"".join(self.body)
        self.body.clear()
        return data


class _Connection:
    """One keep-alive connection to an origin."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()

    def usable(self) -> bool:
        return (
            not self.writer.is_closing()
            and not self.reader.at_eof()
            and time.monotonic() - self.idle_since < KEEPALIVE_EXPIRY
        )

    def close(self) -> None:
        self.writer.close()


class _ResponseStream(httpx.AsyncByteStream):
    """The body of one response; gives its connection back when read to the end."""

    def __init__(
        self,
        transport: "LeanTransport",
        origin: Origin,
        connection: _Connection,
        parser: _Parser,
        read_timeout: float | None,
    ) -> None:
        self.transport = transport
        self.origin = origin
        self.connection: _Connection | None = connection
        self.parser = parser
        self.read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives."""
        parser = self.parser
        first = parser.take_body()
        if first:
            yield first
        while not parser.complete:
            connection = self.connection
            if connection is None:
                return
            data = await self.transport.read(connection, self.read_timeout)
            if not data:
                if parser.headers_done and _until_close(parser):
                    parser.complete = True  # the body ends with the connection
                    break
                raise httpx.RemoteProtocolError(
                    "The upstream closed the connection mid-response."
                )
            parser.feed(data)
            body = parser.take_body()
            if body:
                yield body

    async def aclose(self) -> None:
        """Give the connection back (whole response read) or close it."""
        connection, self.connection = self.connection, None
        if connection is None:
            return
        reusable = self.parser.complete and self.parser.keep_alive
        self.transport.release(self.origin, connection, reusable=reusable)


def _until_close(parser: _Parser) -> bool:
    """Return whether the body is delimited by the end of the connection."""
    names = {name.lower() for name, _ in parser.headers}
    return b"content-length" not in names and b"transfer-encoding" not in names


class LeanTransport:
    """Pooled HTTP/1.1 connections per origin, at most ``max_connections`` open."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_keepalive_connections: int = 20,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.max_connections = max_connections
        self.max_keepalive = max_keepalive_connections
        self.ssl_context = ssl_context
        self._idle: dict[Origin, collections.deque[_Connection]] = {}
        self._open = 0
        self._waiters: collections.deque[asyncio.Future] = collections.deque()

    # -- the pool -----------------------------------------------------------------

    def _idle_for(self, origin: Origin) -> collections.deque[_Connection]:
        idle = self._idle.get(origin)
        if idle is None:
            idle = self._idle[origin] = collections.deque()
        return idle

    async def _acquire(
        self, origin: Origin, timeouts: Mapping[str, Any]
    ) -> _Connection:
        """Return an idle connection to ``origin``, else a new one."""
        idle = self._idle_for(origin)
        while idle:
            connection = idle.pop()
            if connection.usable():
                return connection
            self._open -= 1
            connection.close()
        if self._open >= self.max_connections:
            await self._wait_for_room(timeouts.get("pool"))
        self._open += 1
        try:
            return await self._connect(origin, timeouts.get("connect"))
        except BaseException:
            self._open -= 1
            self._notify()
            raise

    async def _wait_for_room(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                while self._open >= self.max_connections:
                    waiter = loop.create_future()
                    self._waiters.append(waiter)
                    try:
                        await waiter
                    finally:
                        if not waiter.done():
                            waiter.cancel()
        except TimeoutError:
            raise httpx.PoolTimeout("No upstream connection free in time.") from None

    def _notify(self) -> None:
        """Wake one request waiting for a connection slot."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def release(
        self, origin: Origin, connection: _Connection, *, reusable: bool
    ) -> None:
        """Keep ``connection`` for the next request to ``origin``, or close it."""
        idle = self._idle_for(origin)
        if (
            reusable
            and len(idle) < self.max_keepalive
            and not connection.writer.is_closing()
        ):
            connection.idle_since = time.monotonic()
            idle.append(connection)
            return
        self._open -= 1
        connection.close()
        self._notify()

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            context = self.ssl_context or httpx.create_ssl_context()
            self.ssl_context = context
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context else None,
                    limit=READ_SIZE,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(
                "Connecting to the upstream timed out."
            ) from None
        except OSError as exc:
            raise httpx.ConnectError(
                f"Cannot connect to the upstream: {exc.strerror or type(exc).__name__}"
            ) from None
        return _Connection(reader, writer)

    # -- one exchange ---------------------------------------------------------------

    async def read(
        self,
        connection: _Connection,
        timeout: float | None,
    ) -> bytes:
        """Return the next bytes from ``connection`` (b"" at its end)."""
        try:
            async with asyncio.timeout(timeout):
                return await connection.reader.read(READ_SIZE)
        except TimeoutError:
            raise httpx.ReadTimeout("Reading from the upstream timed out.") from None
        except OSError as exc:
            raise httpx.ReadError(
                f"Reading from the upstream failed: {type(exc).__name__}"
            ) from None

    async def open(
        self,
        method: str,
        url: httpx.URL,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        timeouts: Mapping[str, Any],
    ) -> "UpstreamResponse":
        """Send one request; return the response once its headers arrived.

        ``headers`` are sent as given, after ``Host`` (``Content-Length`` is
        added for a body); ``timeouts`` has ``httpx``'s keys (``connect``,
        ``read``, ``write``, ``pool``).
        """
        scheme = url.scheme
        if scheme not in {"http", "https"}:
            raise httpx.UnsupportedProtocol(f"Unsupported scheme {scheme!r}.")
        default_port = 443 if scheme == "https" else 80
        origin = (scheme, url.host, url.port or default_port)
        head = [method.encode(), b" ", url.raw_path, b" HTTP/1.1\r\n"]
        names = set()
        for name, value in headers:
            names.add(name.lower())
            head += [name, b": ", value, b"\r\n"]
        if b"host" not in names:
            host = url.netloc  # host, with the port when not the default
            head = [*head[:4], b"Host: ", host, b"\r\n", *head[4:]]
        if body and b"content-length" not in names:
            head += [b"Content-Length: ", str(len(body)).encode(), b"\r\n"]
        head.append(b"\r\n")
        payload = b"".join(head) + body

        connection = await self._acquire(origin, timeouts)
        try:
            parser = await self._exchange(connection, payload, timeouts)
        except BaseException:
            self.release(origin, connection, reusable=False)
            raise
        stream = _ResponseStream(self, origin, connection, parser, timeouts.get("read"))
        if parser.complete:
            # The whole response came with its headers: free the connection
            # now (the body is held by the parser).
            await stream.aclose()
        return UpstreamResponse(parser.parser.get_status_code(), parser.headers, stream)

    async def _exchange(
        self,
        connection: _Connection,
        payload: bytes,
        timeouts: Mapping[str, Any],
    ) -> _Parser:
        try:
            connection.writer.write(payload)
            async with asyncio.timeout(timeouts.get("write")):
                await connection.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("Writing to the upstream timed out.") from None
        except OSError as exc:
            raise httpx.WriteError(
                f"Writing to the upstream failed: {type(exc).__name__}"
            ) from None
        parser = _Parser()
        while not parser.headers_done:
            data = await self.read(connection, timeouts.get("read"))
            if not data:
                raise httpx.RemoteProtocolError(
                    "The upstream closed the connection without a response."
                )
            parser.feed(data)
        return parser

    async def aclose(self) -> None:
        """Close every idle connection."""
        for idle in self._idle.values():
            while idle:
                self._open -= 1
                idle.pop().close()


class UpstreamResponse:
    """A response whose headers arrived; its body is read (or closed) next."""

    def __init__(
        self,
        status_code: int,
        headers: list[tuple[bytes, bytes]],
        stream: httpx.AsyncByteStream,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.stream = stream

    async def aread(self) -> bytes:
        """Return the whole body, then give the connection back."""
        try:
            return b"".join([part async for part in self.stream])
        finally:
            await self.stream.aclose()

    async def aiter_lines(self) -> AsyncIterator[str]:
        """Yield the body's lines (``\\n`` or ``\\r\\n`` ended), decoded as UTF-8."""
        pending = b""
        async for part in self.stream:
            lines = (pending + part).split(b"\n")
            pending = lines.pop()
            for line in lines:
                yield line.removesuffix(b"\r").decode("utf-8", "replace")
        if pending:
            yield pending.removesuffix(b"\r").decode("utf-8", "replace")

    async def aclose(self) -> None:
        """Give the connection back if the body was read to its end, else close it."""
        await self.stream.aclose()

    async def __aenter__(self) -> "UpstreamResponse":  # noqa: D105
        return self

    async def __aexit__(self, *exc_info: object) -> None:  # noqa: D105
        await self.aclose()


class UpstreamClient(Protocol):
    """What adapters need of an HTTP client: ``POST`` JSON bytes to a path."""

    async def post(
        self, path: str, *, body: bytes, headers: Mapping[str, str]
    ) -> UpstreamResponse:
        """Send ``body`` to ``base_url + path``; return once headers arrived."""
        ...

    async def aclose(self) -> None:
        """Close pooled connections."""
        ...


class LeanClient:
    """:class:`UpstreamClient` on a :class:`LeanTransport`, one base URL."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout,
        limits: httpx.Limits,
        headers: Mapping[str, str],
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.timeouts = timeout.as_dict()
        self.headers = [(k.encode(), v.encode()) for k, v in headers.items()]
        self.transport = LeanTransport(
            max_connections=limits.max_connections or 100,
            max_keepalive_connections=limits.max_keepalive_connections or 20,
        )
        self._urls: dict[str, httpx.URL] = {}

    def _url(self, path: str) -> httpx.URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self.base_url + path.lstrip("/"))
        return url

    async def post(
        self, path: str, *, body: bytes, headers: Mapping[str, str]
    ) -> UpstreamResponse:
        """Send ``body`` (JSON) to ``base_url + path``."""
        raw = [
            *self.headers,
            (b"Content-Type", b"application/json"),
            *((k.encode(), v.encode()) for k, v in headers.items()),
        ]
        return await self.transport.open(
            "POST", self._url(path), raw, body, self.timeouts
        )

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self.transport.aclose()


class HttpxClient:
    """:class:`UpstreamClient` on ``httpx`` (its own transport: proxies)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout,
        limits: httpx.Limits,
        headers: Mapping[str, str],
    ) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            timeout=timeout,
            limits=limits,
            headers=dict(headers),
        )

    async def post(
        self, path: str, *, body: bytes, headers: Mapping[str, str]
    ) -> UpstreamResponse:
        """Send ``body`` (JSON) to ``base_url + path``."""
        request = self.client.build_request(
            "POST",
            path.lstrip("/"),
            content=body,
            headers={"Content-Type": "application/json", **headers},
        )
        response = await self.client.send(request, stream=True)
        return UpstreamResponse(
            response.status_code, response.headers.raw, _HttpxBody(response)
        )

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self.client.aclose()


class _HttpxBody(httpx.AsyncByteStream):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self.response.aiter_bytes():  # decoded, as gzip is asked
            yield part

    async def aclose(self) -> None:
        await self.response.aclose()


def upstream_client(
    base_url: str,
    *,
    timeout: httpx.Timeout,
    limits: httpx.Limits,
    headers: Mapping[str, str],
) -> UpstreamClient:
    """Return a :class:`LeanClient`, or an :class:`HttpxClient` behind a proxy.

    ``httpx`` honours the proxy environment variables, which the lean
    transport does not implement.
    """
    kind = HttpxClient if httpx._utils.get_environment_proxies() else LeanClient  # noqa: SLF001 - httpx's own rule
    return kind(base_url, timeout=timeout, limits=limits, headers=headers)

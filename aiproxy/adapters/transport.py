"""A lean HTTP/1.1 transport for ``httpx``: keep-alive connections on asyncio.

Why: ``httpx``'s default transport (``httpcore`` over ``anyio``) cost about
0.45 ms of CPU per upstream call here, more than the rest of the proxy's
own work; this one costs a small fraction of it (BENCHMARKS.md, "AI proxy").
The ``httpx`` client on top is unchanged, so adapters keep their API,
timeouts and exception types: this module raises the same ``httpx``
exceptions ``httpcore`` would (``ConnectTimeout``, ``ConnectError``,
``PoolTimeout``, ``ReadTimeout``, ``ReadError``, ``WriteError``,
``RemoteProtocolError``).

Scope: plain HTTP/1.1 and TLS, no proxies (:func:`transport_for` gives the
default ``httpx`` transport when proxy environment variables are set), no
HTTP/2, no ``Expect: 100-continue``. Closing a response before its end
closes its connection, which is how a client's disconnect cancels the
upstream request.
"""

import asyncio
import collections
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

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
        request: httpx.Request,
    ) -> None:
        self.transport = transport
        self.origin = origin
        self.connection: _Connection | None = connection
        self.parser = parser
        self.read_timeout = read_timeout
        self.request = request

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
            data = await self.transport.read(
                connection, self.read_timeout, self.request
            )
            if not data:
                if parser.headers_done and _until_close(parser):
                    parser.complete = True  # the body ends with the connection
                    break
                raise httpx.RemoteProtocolError(
                    "The upstream closed the connection mid-response.",
                    request=self.request,
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


class LeanTransport(httpx.AsyncBaseTransport):
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
        self, origin: Origin, timeouts: dict[str, Any], request: httpx.Request
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
            await self._wait_for_room(timeouts.get("pool"), request)
        self._open += 1
        try:
            return await self._connect(origin, timeouts.get("connect"), request)
        except BaseException:
            self._open -= 1
            self._notify()
            raise

    async def _wait_for_room(
        self, timeout: float | None, request: httpx.Request
    ) -> None:
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
            raise httpx.PoolTimeout(
                "No upstream connection free in time.", request=request
            ) from None

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

    async def _connect(
        self, origin: Origin, timeout: float | None, request: httpx.Request
    ) -> _Connection:
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
                "Connecting to the upstream timed out.", request=request
            ) from None
        except OSError as exc:
            raise httpx.ConnectError(
                f"Cannot connect to the upstream: {exc.strerror or type(exc).__name__}",
                request=request,
            ) from None
        return _Connection(reader, writer)

    # -- one exchange ---------------------------------------------------------------

    async def read(
        self, connection: _Connection, timeout: float | None, request: httpx.Request
    ) -> bytes:
        """Return the next bytes from ``connection`` (b"" at its end)."""
        try:
            async with asyncio.timeout(timeout):
                return await connection.reader.read(READ_SIZE)
        except TimeoutError:
            raise httpx.ReadTimeout(
                "Reading from the upstream timed out.", request=request
            ) from None
        except OSError as exc:
            raise httpx.ReadError(
                f"Reading from the upstream failed: {type(exc).__name__}",
                request=request,
            ) from None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; return the response once its headers arrived."""
        url = request.url
        scheme = url.scheme
        if scheme not in {"http", "https"}:
            raise httpx.UnsupportedProtocol(
                f"Unsupported scheme {scheme!r}.", request=request
            )
        origin = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        timeouts = request.extensions.get("timeout") or {}
        body = b"".join([part async for part in request.stream])
        head = [request.method.encode(), b" ", url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            head += [name, b": ", value, b"\r\n"]
        if body and "content-length" not in request.headers:
            head += [b"Content-Length: ", str(len(body)).encode(), b"\r\n"]
        head.append(b"\r\n")
        payload = b"".join(head) + body

        connection = await self._acquire(origin, timeouts, request)
        try:
            parser = await self._exchange(connection, payload, timeouts, request)
        except BaseException:
            self.release(origin, connection, reusable=False)
            raise
        stream = _ResponseStream(
            self, origin, connection, parser, timeouts.get("read"), request
        )
        if parser.complete:
            # The whole response came with its headers: free the connection
            # now (the body is held by the parser).
            await stream.aclose()
        return httpx.Response(
            status_code=parser.parser.get_status_code(),
            headers=parser.headers,
            stream=stream,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def _exchange(
        self,
        connection: _Connection,
        payload: bytes,
        timeouts: dict[str, Any],
        request: httpx.Request,
    ) -> _Parser:
        try:
            connection.writer.write(payload)
            async with asyncio.timeout(timeouts.get("write")):
                await connection.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout(
                "Writing to the upstream timed out.", request=request
            ) from None
        except OSError as exc:
            raise httpx.WriteError(
                f"Writing to the upstream failed: {type(exc).__name__}",
                request=request,
            ) from None
        parser = _Parser()
        while not parser.headers_done:
            data = await self.read(connection, timeouts.get("read"), request)
            if not data:
                raise httpx.RemoteProtocolError(
                    "The upstream closed the connection without a response.",
                    request=request,
                )
            parser.feed(data)
        return parser

    async def aclose(self) -> None:
        """Close every idle connection."""
        for idle in self._idle.values():
            while idle:
                self._open -= 1
                idle.pop().close()


def transport_for(limits: httpx.Limits) -> httpx.AsyncBaseTransport | None:
    """Return a :class:`LeanTransport` for an adapter's client.

    None (``httpx``'s own transport) when proxy variables are set in the
    environment, which this transport does not implement.
    """
    if httpx._utils.get_environment_proxies():  # noqa: SLF001 - httpx's own rule
        return None
    return LeanTransport(
        max_connections=limits.max_connections or 100,
        max_keepalive_connections=limits.max_keepalive_connections or 20,
    )

"""A raw HTTP/1.1 server on loopback whose answers are scripted byte for byte.

The other fakes are well-behaved ``http.server`` handlers; this one lets a
test send what a broken or hostile upstream sends: interim ``1xx``
responses, bytes after an answer (at once or later, on a connection the
client might reuse), a 1 MiB header, an endless body, gzip, TLS with its own
certificate. ``script(exchange)`` returns the steps for one request: bytes
are sent as they are, a float sleeps that many seconds, :data:`CLOSE` closes
the connection. After the steps the connection stays open and the next
request on it is read, whatever the request asked (a hostile server does
not honour ``Connection: close``).

Each request is recorded as an :class:`Exchange` (its connection number,
request line, headers, body). ``client_gone`` is set when sending failed
because the client had closed the connection.
"""

import gzip
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Self

CLOSE = object()
MAX_HEAD = 1024 * 1024


@dataclass(frozen=True)
class Exchange:
    """One request as the server read it."""

    connection: int
    method: str
    target: str
    headers: dict[str, str]  # names lowercased
    body: bytes

    def json(self) -> Any:
        """Return the request body parsed as JSON."""
        return json.loads(self.body or b"null")


Step = bytes | float | object
Script = Callable[[Exchange], Iterable[Step]]


def response(
    body: bytes,
    *,
    status: str = "200 OK",
    headers: Iterable[tuple[str, str]] = (("Content-Type", "application/json"),),
) -> bytes:
    """Return a whole HTTP/1.1 response with a ``Content-Length``."""
    head = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers)]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chat_answer(content: str) -> bytes:
    """Return an OpenAI chat-completions JSON body answering ``content``."""
    return json.dumps(
        {
            "id": "chatcmpl-hostile",
            "object": "chat.completion",
            "model": "up-1",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        },
        ensure_ascii=False,
    ).encode()


def echo(exchange: Exchange) -> bytes:
    """Return a 200 answering with the request's first message, as sent."""
    question = exchange.json()["messages"][0]["content"]
    return response(chat_answer("answer for " + question))


def gzipped(body: bytes) -> bytes:
    """Return ``body`` as a gzip-encoded 200 response."""
    return response(
        gzip.compress(body),
        headers=(("Content-Type", "application/json"), ("Content-Encoding", "gzip")),
    )


def sse_stream(events: Iterable[bytes]) -> bytes:
    """Return the head of a chunked ``text/event-stream`` answer and its events."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events if e)
    return head + chunks + b"0\r\n\r\n"


class HostileUpstream:
    """Serve ``script`` on a free 127.0.0.1 port (``tls``: over TLS)."""

    def __init__(self, script: Script, *, tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.tls = tls
        self.exchanges: list[Exchange] = []
        self.client_gone = threading.Event()
        self._connections = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=512)
        self._socket.settimeout(0.05)
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        """Return the server's base URL."""
        port = self._socket.getsockname()[1]
        return ("https" if self.tls else "http") + f"://127.0.0.1:{port}"

    def start(self) -> Self:
        """Start accepting connections in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and wait for the accept loop to end."""
        self._stopping.set()
        self._thread.join(5)
        self._socket.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                number = self._connections
                self._connections += 1
            threading.Thread(
                target=self._serve, args=(conn, number), daemon=True
            ).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        try:
            if self.tls:
                conn.settimeout(5)
                conn = self.tls.wrap_socket(conn, server_side=True)
            conn.settimeout(10)
            buffer = b""
            while not self._stopping.is_set():
                exchange, buffer = self._read(conn, number, buffer)
                if exchange is None:
                    return
                with self._lock:
                    self.exchanges.append(exchange)
                for step in self.script(exchange):
                    if step is CLOSE:
                        return
                    if isinstance(step, float | int):
                        time.sleep(step)
                    else:
                        conn.sendall(step)
        except (ssl.SSLError, TimeoutError):
            return
        except OSError:
            self.client_gone.set()
        finally:
            conn.close()

    def _read(
        self, conn: socket.socket, number: int, buffer: bytes
    ) -> tuple[Exchange | None, bytes]:
        while b"\r\n\r\n" not in buffer:
            data = conn.recv(65536)
            if not data or len(buffer) > MAX_HEAD:
                return None, b""
            buffer += data
        head, _, rest = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        while len(rest) < length:
            data = conn.recv(65536)
            if not data:
                return None, b""
            rest += data
        exchange = Exchange(number, method, target, headers, rest[:length])
        return exchange, rest[length:]

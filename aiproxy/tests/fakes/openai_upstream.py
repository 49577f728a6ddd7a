"""A real HTTP server on loopback speaking OpenAI's chat-completions format.

Tests point an ``openai`` provider's base URL at it and flip its switches to
make faults happen for real: ``status`` (answer an error), ``fail_times``
(fail the first N requests with 503, to exercise the retry), ``delay`` (wait
before answering), ``hang`` (never answer until ``hang`` seconds passed),
``chunk_delay`` (pace a stream), ``cut_after`` (drop the connection after N
chunks), ``omit_usage`` (a compat server that reports no usage). It records
each request's body and headers, and sets ``cancelled`` when a client went
away in the middle of a stream.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_PIECES = ["Hello", ",", " this", " is", " the", " fake", " upstream", "."]


class FakeOpenAIUpstream:
    """Serve ``POST /v1/chat/completions`` and ``GET /v1/models`` on 127.0.0.1."""

    def __init__(self) -> None:
        self.reset()
        self.requests: list[dict[str, Any]] = []
        self.cancelled = threading.Event()
        self.finished = threading.Event()
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                fake._send_json(self, 200, {"object": "list", "data": []})

            def do_POST(self) -> None:
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- switches ----------------------------------------------------------------

    def reset(self) -> None:
        """Return every switch to a healthy, fast upstream."""
        self.status = 200
        self.error_message = "The model is overloaded."
        self.fail_times = 0
        self.delay = 0.0
        self.hang = 0.0
        self.chunk_delay = 0.0
        self.cut_after: int | None = None
        self.omit_usage = False
        self.pieces = list(DEFAULT_PIECES)
        self.prompt_tokens = 12

    # -- lifecycle ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "FakeOpenAIUpstream":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    # -- serving -----------------------------------------------------------------

    def _send_json(
        self, handler: BaseHTTPRequestHandler, status: int, body: Any
    ) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}")
        self.requests.append(
            {
                "body": body,
                "headers": dict(handler.headers),
                "peer": handler.client_address,
            }
        )
        if self.hang:
            self._stop.wait(self.hang)
            handler.close_connection = True
            return
        if self.delay:
            time.sleep(self.delay)
        if self.fail_times > 0:
            self.fail_times -= 1
            self._send_json(
                handler, 503, {"error": {"message": "Try again.", "type": "server"}}
            )
            return
        if self.status != 200:
            self._send_json(
                handler,
                self.status,
                {"error": {"message": self.error_message, "type": "invalid_request"}},
            )
            return
        pieces = self.pieces[: body.get("max_tokens") or len(self.pieces)]
        usage = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": len(pieces),
            "total_tokens": self.prompt_tokens + len(pieces),
        }
        if not body.get("stream"):
            answer = {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(pieces)},
                        "finish_reason": "stop",
                    }
                ],
            }
            if not self.omit_usage:
                answer["usage"] = usage
            self._send_json(handler, 200, answer)
            self.finished.set()
            return
        self._stream(handler, body, pieces, usage)

    def _stream(
        self,
        handler: BaseHTTPRequestHandler,
        body: dict[str, Any],
        pieces: list[str],
        usage: dict[str, int],
    ) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True

        def chunk(
            delta: dict[str, Any], finish: str | None = None, **extra: Any
        ) -> bytes:
            data = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return b"data: " + json.dumps(data).encode() + b"\n\n"

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": piece}) for piece in pieces]
        events.append(chunk({}, "stop"))
        include_usage = (body.get("stream_options") or {}).get("include_usage")
        if include_usage and not self.omit_usage:
            data = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [],
                "usage": usage,
            }
            events.append(b"data: " + json.dumps(data).encode() + b"\n\n")
        events.append(b"data: [DONE]\n\n")
        try:
            for index, event in enumerate(events):
                if self.cut_after is not None and index > self.cut_after:
                    handler.connection.shutdown(2)  # drop mid-stream
                    return
                handler.wfile.write(event)
                handler.wfile.flush()
                pace = self.chunk_delay and index < len(events) - 1
                if pace and self._stop.wait(self.chunk_delay):
                    return
            self.finished.set()
        except OSError:
            # The client closed its side: the proxy cancelled the request.
            self.cancelled.set()

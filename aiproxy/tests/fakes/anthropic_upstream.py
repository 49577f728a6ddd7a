"""A fake Anthropic Messages API: a real HTTP/1.1 server on 127.0.0.1.

It speaks the wire format the adapter must handle: ``POST /v1/messages``
with ``x-api-key`` and ``anthropic-version`` headers, JSON answers, and
streamed answers as server-sent events (``message_start``,
``content_block_start``, ``ping``, ``content_block_delta``,
``content_block_stop``, ``message_delta``, ``message_stop``) in chunked
transfer encoding on keep-alive connections, and errors as
``{"type": "error", "error": {"type", "message"}}``.

Switches (attributes, set by tests between requests):

- ``reply``: the answer text, streamed one word per delta;
- ``chunk_delay`` / ``first_byte_delay``: seconds between deltas / before
  the status line (a slow upstream);
- ``hang``: accept the request and never answer (until ``stop()``);
- ``fail_next``: a list of ``(status, error_type, message)`` answered, one per
  request, before normal service resumes;
- ``error_after``: send an ``error`` event after that many deltas, in the
  next ``error_times`` streams (``None``: every stream);
- ``cut_after``: drop the connection after that many deltas.

It records each request (``requests``: path, headers without the key, body),
the keys it saw (``keys_seen``) and whether a client went away mid-stream
(``cancelled``, an Event).
"""

import json
import re
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from aiproxy.tests.fakes.loopback import LoopbackFake

DEFAULT_REPLY = (
    "Hello from the fake Anthropic upstream. This answer streams one word at a "
    "time, like the real service does."
)
_WORD = re.compile(r"\s*\S+")


def count_words(text: str) -> int:
    """Return the fake's token count of ``text``: its whitespace-split words."""
    return len(text.split())


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(block.get("text", "")) for block in content if isinstance(block, dict)
        )
    return ""


class AnthropicUpstream(LoopbackFake):
    """Serve the fake on a free loopback port; ``url`` is its base URL."""

    def __init__(self, *, api_key: str = "sk-ant-test-fake-key-0001") -> None:
        self.api_key = api_key
        self.reply = DEFAULT_REPLY
        self.chunk_delay = 0.0
        self.first_byte_delay = 0.0
        self.hang = False
        self.fail_next: list[tuple[int, str, str]] = []
        self.error_after: int | None = None
        self.error_times: int | None = None
        self.cut_after: int | None = None
        self.requests: list[dict[str, Any]] = []
        self.keys_seen: list[str] = []
        super().__init__(_make_handler)

    # -- what one request gets ---------------------------------------------

    def answer(self, body: dict[str, Any]) -> tuple[list[str], str, str | None, int]:
        """Return (words, stop_reason, stop_sequence, input_tokens) for ``body``."""
        words = _WORD.findall(self.reply)
        stop_reason, stop_sequence = "end_turn", None
        for stop in body.get("stop_sequences") or []:
            text = "".join(words)
            if stop and stop in text:
                words = _WORD.findall(text[: text.index(stop)])
                stop_reason, stop_sequence = "stop_sequence", stop
                break
        if len(words) > body["max_tokens"]:
            words = words[: body["max_tokens"]]
            stop_reason, stop_sequence = "max_tokens", None
        prompt = (
            _text(body.get("system"))
            + " "
            + " ".join(_text(m.get("content")) for m in body["messages"])
        )
        return words, stop_reason, stop_sequence, count_words(prompt)

    def take_stream_error(self) -> bool:
        """Return whether this stream gets the ``error_after`` error event."""
        with self._lock:
            if self.error_after is None or self.error_times == 0:
                return False
            if self.error_times is not None:
                self.error_times -= 1
            return True

    def take_failure(self) -> tuple[int, str, str] | None:
        """Pop the next queued failure, if any."""
        with self._lock:
            return self.fail_next.pop(0) if self.fail_next else None


def _validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body: must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for index, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
        if index and messages[index - 1].get("role") == message.get("role"):
            return "messages: roles must alternate between user and assistant"
    if "system" in body and not isinstance(body["system"], str | list):
        return "system: Input should be a valid string"
    return None


def _make_handler(fake: AnthropicUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Stay quiet: tests capture logs and search them."""

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("request-id", "req_" + uuid.uuid4().hex[:16])
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, kind: str, message: str) -> None:
            self._json(
                status,
                {"type": "error", "error": {"type": kind, "message": message}},
            )

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            key = self.headers.get("x-api-key", "")
            headers = {
                k.lower(): v
                for k, v in self.headers.items()
                if k.lower() != "x-api-key"
            }
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                body = None
            with fake._lock:
                fake.keys_seen.append(key)
                fake.requests.append(
                    {"path": self.path, "headers": headers, "body": body}
                )
            if fake.first_byte_delay:
                time.sleep(fake.first_byte_delay)
            if fake.hang:
                fake._release.wait(60)
                self.close_connection = True
                return
            if self.path != "/v1/messages":
                self._error(404, "not_found_error", "Not found")
                return
            if fake.api_key and key != fake.api_key:
                self._error(401, "authentication_error", "invalid x-api-key")
                return
            if not self.headers.get("anthropic-version"):
                self._error(
                    400,
                    "invalid_request_error",
                    "anthropic-version: header is required",
                )
                return
            failure = fake.take_failure()
            if failure:
                self._error(*failure)
                return
            problem = _validate(body)
            if problem:
                self._error(400, "invalid_request_error", problem)
                return
            if body.get("stream"):
                self._stream(body)
            else:
                self._complete(body)

        def _complete(self, body: dict[str, Any]) -> None:
            words, stop_reason, stop_sequence, input_tokens = fake.answer(body)
            self._json(
                200,
                {
                    "id": "msg_" + uuid.uuid4().hex[:24],
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [{"type": "text", "text": "".join(words)}],
                    "stop_reason": stop_reason,
                    "stop_sequence": stop_sequence,
                    "usage": {
                        "input_tokens": input_tokens,
                        "output_tokens": len(words),
                    },
                },
            )
            fake.finished.set()

        def _event(self, name: str, data: dict[str, Any]) -> None:
            # Unescaped UTF-8, as the real API sends: U+2028 stays one byte run.
            text = json.dumps(data, ensure_ascii=False)
            payload = f"event: {name}\ndata: {text}\n\n".encode()
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            self.wfile.flush()

        def _stream(self, body: dict[str, Any]) -> None:
            words, stop_reason, stop_sequence, input_tokens = fake.answer(body)
            error_after = fake.error_after if fake.take_stream_error() else None
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                self._event(
                    "message_start",
                    {
                        "type": "message_start",
                        "message": {
                            "id": "msg_" + uuid.uuid4().hex[:24],
                            "type": "message",
                            "role": "assistant",
                            "model": body["model"],
                            "content": [],
                            "stop_reason": None,
                            "stop_sequence": None,
                            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
                        },
                    },
                )
                self._event(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
                self._event("ping", {"type": "ping"})
                for index, word in enumerate(words):
                    if error_after is not None and index == error_after:
                        self._event(
                            "error",
                            {
                                "type": "error",
                                "error": {
                                    "type": "overloaded_error",
                                    "message": "Overloaded",
                                },
                            },
                        )
                        self.wfile.write(b"0\r\n\r\n")
                        return
                    if fake.cut_after is not None and index == fake.cut_after:
                        self.close_connection = True
                        return
                    if fake.chunk_delay:
                        time.sleep(fake.chunk_delay)
                    self._event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "text_delta", "text": word},
                        },
                    )
                self._event(
                    "content_block_stop", {"type": "content_block_stop", "index": 0}
                )
                self._event(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {
                            "stop_reason": stop_reason,
                            "stop_sequence": stop_sequence,
                        },
                        "usage": {"output_tokens": len(words)},
                    },
                )
                self._event("message_stop", {"type": "message_stop"})
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                fake.finished.set()
            except (BrokenPipeError, ConnectionResetError):
                fake.cancelled.set()
                self.close_connection = True

    return Handler

"""A fake Bedrock Runtime: Converse and ConverseStream on 127.0.0.1.

moto (5.2) implements ``InvokeModel`` only, so this server speaks the two
operations the adapter uses, as boto3 sends them (SigV4-signed, reached
through ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``):

- ``POST /model/{modelId}/converse``: JSON in, JSON out; errors carry
  ``x-amzn-ErrorType`` and ``{"message"}`` like the real service.
- ``POST /model/{modelId}/converse-stream``: answers in the AWS event-stream
  binary framing (``application/vnd.amazon.eventstream``): per message a
  prelude (total and header lengths, CRC32), typed headers
  (``:event-type``, ``:message-type``, ``:content-type``), a JSON payload and
  a CRC32 of the whole message. Events: ``messageStart``,
  ``contentBlockDelta`` (one word each), ``contentBlockStop``,
  ``messageStop``, ``metadata`` (usage).

Switches: ``reply``, ``chunk_delay``, ``hang``, ``fail_next`` (a list of
``(status, error_type, message)``), ``stream_error_after`` (a
``throttlingException`` event after that many words). Requests are recorded
without their ``Authorization`` header; ``cancelled`` is set when a client
went away mid-stream.
"""

import binascii
import json
import re
import struct
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from aiproxy.tests.fakes.loopback import LoopbackFake

DEFAULT_REPLY = "Hello from the fake Bedrock runtime, one word per event."
_WORD = re.compile(r"\s*\S+")
_PATH = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>converse|converse-stream)$")


def count_words(text: str) -> int:
    """Return the fake's token count of ``text``: its whitespace-split words."""
    return len(text.split())


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack("!B", len(raw_name))
        + raw_name
        + struct.pack("!BH", 7, len(raw_value))  # 7: string
        + raw_value
    )


def event_message(headers: dict[str, str], payload: dict[str, Any]) -> bytes:
    """Return one event-stream message with ``headers`` and a JSON ``payload``."""
    raw_headers = b"".join(_header(k, v) for k, v in headers.items())
    body = json.dumps(payload).encode()
    total = 12 + len(raw_headers) + len(body) + 4
    prelude = struct.pack("!II", total, len(raw_headers))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + raw_headers + body
    return message + struct.pack("!I", binascii.crc32(message) & 0xFFFFFFFF)


def event(name: str, payload: dict[str, Any]) -> bytes:
    """Return an ``event`` message of type ``name``."""
    return event_message(
        {
            ":event-type": name,
            ":content-type": "application/json",
            ":message-type": "event",
        },
        payload,
    )


def exception_event(name: str, message: str) -> bytes:
    """Return an ``exception`` message (an error inside the stream)."""
    return event_message(
        {
            ":exception-type": name,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        {"message": message},
    )


class BedrockUpstream(LoopbackFake):
    """Serve the fake on a free loopback port; ``url`` is its endpoint URL."""

    def __init__(self) -> None:
        self.reply = DEFAULT_REPLY
        self.chunk_delay = 0.0
        self.hang = False
        self.fail_next: list[tuple[int, str, str]] = []
        self.stream_error_after: int | None = None
        self.requests: list[dict[str, Any]] = []
        super().__init__(_make_handler)

    def answer(self, body: dict[str, Any]) -> tuple[list[str], str, int]:
        """Return (words, stopReason, inputTokens) for a Converse ``body``."""
        config = body.get("inferenceConfig") or {}
        words = _WORD.findall(self.reply)
        stop_reason = "end_turn"
        for stop in config.get("stopSequences") or []:
            text = "".join(words)
            if stop and stop in text:
                words = _WORD.findall(text[: text.index(stop)])
                stop_reason = "stop_sequence"
                break
        limit = config.get("maxTokens")
        if limit and len(words) > limit:
            words, stop_reason = words[:limit], "max_tokens"
        texts = [block.get("text", "") for block in body.get("system") or []]
        for message in body.get("messages") or []:
            texts += [block.get("text", "") for block in message.get("content") or []]
        return words, stop_reason, count_words(" ".join(texts))

    def take_failure(self) -> tuple[int, str, str] | None:
        """Pop the next queued failure, if any."""
        with self._lock:
            return self.fail_next.pop(0) if self.fail_next else None


def _validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "A conversation must start with a user message."
    if messages[0].get("role") != "user":
        return "A conversation must start with a user message."
    for index, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return f"messages.{index}.role: must be user or assistant"
        if index and messages[index - 1].get("role") == message.get("role"):
            return "A conversation must alternate between user and assistant roles."
    return None


def _make_handler(fake: BedrockUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Stay quiet: tests capture logs and search them."""

        def _json(self, status: int, payload: dict[str, Any], error: str = "") -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", "fake-request-id")
            if error:
                self.send_header("x-amzn-ErrorType", error)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            match = _PATH.match(self.path)
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                body = None
            with fake._lock:
                fake.requests.append(
                    {
                        "path": self.path,
                        "model": unquote(match["model"]) if match else None,
                        "signed": self.headers.get("Authorization", "").startswith(
                            "AWS4-HMAC-SHA256 "
                        ),
                        "body": body,
                    }
                )
            if fake.hang:
                fake._release.wait(60)
                self.close_connection = True
                return
            if not match:
                self._json(404, {"message": "Not found"}, "UnknownOperationException")
                return
            failure = fake.take_failure()
            if failure:
                status, kind, message = failure
                self._json(status, {"message": message}, kind)
                return
            problem = _validate(body)
            if problem:
                self._json(400, {"message": problem}, "ValidationException")
                return
            if match["op"] == "converse":
                self._converse(body)
            else:
                self._converse_stream(body)

        def _converse(self, body: dict[str, Any]) -> None:
            words, stop_reason, input_tokens = fake.answer(body)
            self._json(
                200,
                {
                    "output": {
                        "message": {
                            "role": "assistant",
                            "content": [{"text": "".join(words)}],
                        }
                    },
                    "stopReason": stop_reason,
                    "usage": {
                        "inputTokens": input_tokens,
                        "outputTokens": len(words),
                        "totalTokens": input_tokens + len(words),
                    },
                    "metrics": {"latencyMs": 1},
                },
            )
            fake.finished.set()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _converse_stream(self, body: dict[str, Any]) -> None:
            words, stop_reason, input_tokens = fake.answer(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.amazon.eventstream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("x-amzn-RequestId", "fake-request-id")
            self.end_headers()
            try:
                self._chunk(event("messageStart", {"role": "assistant"}))
                for index, word in enumerate(words):
                    if index == fake.stream_error_after:
                        self._chunk(
                            exception_event("throttlingException", "Too many requests")
                        )
                        self.wfile.write(b"0\r\n\r\n")
                        return
                    if fake.chunk_delay:
                        time.sleep(fake.chunk_delay)
                    self._chunk(
                        event(
                            "contentBlockDelta",
                            {"contentBlockIndex": 0, "delta": {"text": word}},
                        )
                    )
                self._chunk(event("contentBlockStop", {"contentBlockIndex": 0}))
                self._chunk(event("messageStop", {"stopReason": stop_reason}))
                self._chunk(
                    event(
                        "metadata",
                        {
                            "usage": {
                                "inputTokens": input_tokens,
                                "outputTokens": len(words),
                                "totalTokens": input_tokens + len(words),
                            },
                            "metrics": {"latencyMs": 1},
                        },
                    )
                )
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                fake.finished.set()
            except (BrokenPipeError, ConnectionResetError):
                fake.cancelled.set()
                self.close_connection = True

    return Handler

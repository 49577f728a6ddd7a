"""The mock provider: deterministic text, streamed in token-sized pieces.

It is what ``make run`` uses with no AI configured. The answer depends only
on the messages and ``max_tokens``, so tests and demos are reproducible. Each
piece is one "token"; ``options["chunk_delay"]`` seconds pass between pieces
so a stream looks like a real one.
"""

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator

from aiproxy import tokens
from aiproxy.adapters.base import (
    ChatRequest,
    ChatResult,
    ProviderConfig,
    StreamDelta,
    Usage,
)

SENTENCES = [
    "Here is a clear and concise draft based on your text.",
    "The main idea is stated first, then supported by two short examples.",
    "Each paragraph keeps to one point, which makes the argument easy to follow.",
    "Consider trimming repeated phrases so that the rhythm stays brisk.",
    "A closing sentence ties the points together and suggests a next step.",
    "The tone stays friendly and direct, without losing precision.",
    "Technical terms are explained the first time they appear.",
    "Short sentences alternate with longer ones to keep the reader engaged.",
]
_PIECE = re.compile(r"\s*\S{1,4}")


class MockProvider:
    """A provider that needs no network and no key."""

    def __init__(self, config: ProviderConfig) -> None:
        self.name = config.name
        self.chunk_delay = float(config.options.get("chunk_delay", 0.0) or 0.0)

    def _answer(self, request: ChatRequest) -> tuple[list[str], str]:
        digest = hashlib.sha256(
            json.dumps(request.messages, sort_keys=True, default=str).encode()
        ).digest()
        count = 3 + digest[0] % 4
        start = digest[1] % len(SENTENCES)
        text = " ".join(SENTENCES[(start + i) % len(SENTENCES)] for i in range(count))
        pieces = _PIECE.findall(text)
        if len(pieces) > request.max_tokens:
            return pieces[: request.max_tokens], "length"
        return pieces, "stop"

    def _prompt_tokens(self, request: ChatRequest) -> int:
        return tokens.prompt_tokens_exact(request.messages)

    async def complete(self, request: ChatRequest) -> ChatResult:
        """Return the whole deterministic answer."""
        pieces, finish = self._answer(request)
        usage = Usage(self._prompt_tokens(request), len(pieces))
        return ChatResult(content="".join(pieces), finish_reason=finish, usage=usage)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamDelta]:
        """Yield the answer one token-sized piece at a time, then the usage."""
        pieces, finish = self._answer(request)
        for piece in pieces:
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            yield StreamDelta(content=piece)
        yield StreamDelta(
            finish_reason=finish,
            usage=Usage(self._prompt_tokens(request), len(pieces)),
        )

    async def aclose(self) -> None:
        """Nothing to release."""

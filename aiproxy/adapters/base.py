"""The one small interface every AI provider adapter implements.

Adapters speak their provider's wire format and translate to and from these
neutral types; the rest of ``aiproxy`` (quota, ledger, views) never sees a
provider's format. Timeouts and the single pre-stream retry live in adapters.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ChatRequest:
    """A chat completion request, already validated, for one upstream model."""

    model: str  # the provider's own model id
    messages: list[dict[str, Any]]  # OpenAI-shaped: {"role", "content"}
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ChatResult:
    content: str
    finish_reason: str
    usage: Usage


@dataclass(frozen=True)
class StreamDelta:
    """One piece of a streamed answer; the last one carries ``usage``."""

    content: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


class UpstreamError(Exception):
    """The provider answered with an error or could not be reached (502)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message  # already sanitised: no keys, no prompt
        self.status = status


class UpstreamTimeout(UpstreamError):
    """The provider did not answer in time (504)."""


class Provider(Protocol):
    name: str

    async def complete(self, request: ChatRequest) -> ChatResult:
        """Return the whole answer."""
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamDelta]:
        """Yield the answer piece by piece; the last delta carries usage."""
        ...

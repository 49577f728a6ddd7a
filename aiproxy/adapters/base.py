"""The one small interface every AI provider adapter implements.

Adapters speak their provider's wire format and translate to and from these
neutral types; the rest of ``aiproxy`` (quota, ledger, views) never sees a
provider's format. Timeouts and the single pre-stream retry live in adapters.
"""

from collections.abc import AsyncIterator, Callable
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


class ProviderNotConfigured(Exception):
    """The provider is unknown or lacks its settings or key (503)."""


def _no_key() -> str | None:
    return None


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach one configured provider; built by ``aiproxy.providers``.

    ``name`` is the configured instance ("openai", "groq", "anthropic"...),
    ``kind`` the adapter ("openai", "anthropic", "bedrock", "mock"). The key is
    never stored here: ``api_key()`` returns the current one (Secrets Manager
    with a TTL, else the environment), so a rotated key is used without a
    restart. ``options`` holds adapter-specific settings (``region``,
    ``ca_bundle``, ``max_connections``...).
    """

    name: str
    kind: str
    base_url: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 60.0  # the longest silence while reading
    total_timeout: float = 600.0  # the whole exchange, stream included; 0 = none
    max_retries: int = 1  # only before the first byte of an answer
    api_key_secret: str = ""  # Secrets Manager ARN or name; "" = env var only
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    api_key: Callable[[], str | None] = field(
        default=_no_key, repr=False, hash=False, compare=False
    )


class Provider(Protocol):
    """An adapter: ``AdapterClass(config: ProviderConfig)`` builds one.

    One instance lives per event loop and provider (``aiproxy.providers``), so
    it may hold a pooled async HTTP client; ``aclose()`` releases it.
    """

    name: str

    async def complete(self, request: ChatRequest) -> ChatResult:
        """Return the whole answer."""
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamDelta]:
        """Yield the answer piece by piece; the last delta carries usage.

        Closing the iterator early (client gone) must cancel the upstream
        request. Raise ``UpstreamError``/``UpstreamTimeout`` on failure.
        """
        ...

    async def aclose(self) -> None:
        """Release pooled connections (optional)."""
        ...

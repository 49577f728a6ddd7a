"""Count prompt tokens before calling a provider, to reserve quota.

The count uses the ``cl100k_base`` byte-pair encoding from ``bpe-openai``,
whose vocabulary ships inside the wheel (``tiktoken`` downloads its data at
first use, which a sealed network forbids; checked with pip: its wheel has
no encoding file). Other providers' tokenizers differ by some percent, so
the count gets a 10% margin; the reservation is settled to the provider's
own figures afterwards anyway.

Only the package's public API is used (``bpe_openai.get_encoding``). Its
import builds Python tables of every vocabulary it ships (about 90 MB and
over a second per process), so the ASGI entry loads it at start-up
(:func:`warm`) rather than on a worker's first AI request.
"""

import functools
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import bpe_openai

# Per-message framing of the chat format (role, separators), as OpenAI counts it.
TOKENS_PER_MESSAGE = 4
TOKENS_PER_REPLY = 3
MARGIN = 1.10


@functools.cache
def _encoding() -> "bpe_openai.Encoding":
    """Return the ``cl100k_base`` encoding (loaded once per process).

    Imported here, not at the top: the API workers import this module (the
    URL configuration reaches it) but never count a prompt.
    """
    import bpe_openai  # noqa: PLC0415 - heavy, and only the AI routes need it

    return bpe_openai.get_encoding("cl100k_base")


def warm() -> None:
    """Load the encoding now (process start-up), not on the first request."""
    _encoding()


def text_tokens(text: str) -> int:
    """Return the number of ``cl100k_base`` tokens in ``text``."""
    if not text:
        return 0
    # ``encode_ordinary``: a special token such as ``<|endoftext|>`` quoted
    # in a prompt is text to count, not a marker to refuse.
    return len(_encoding().encode_ordinary(text))


def message_text(content: Any) -> str:
    """Return the text of an OpenAI message ``content`` (string or parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def prompt_tokens_exact(messages: list[dict[str, Any]]) -> int:
    """Return the ``cl100k_base`` token count of a chat prompt, framing included."""
    count = TOKENS_PER_REPLY
    for message in messages:
        count += TOKENS_PER_MESSAGE + text_tokens(message_text(message.get("content")))
        if message.get("name"):
            count += 1 + text_tokens(message["name"])
    return count


def with_margin(count: int) -> int:
    """Return ``count`` plus the safety margin for other tokenizers."""
    return math.ceil(count * MARGIN)


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Return the token count of a chat prompt plus the safety margin."""
    return with_margin(prompt_tokens_exact(messages))


def cache_clear() -> None:
    """Forget the loaded encoding (tests)."""
    _encoding.cache_clear()

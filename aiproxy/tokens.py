"""Count prompt tokens before calling a provider, to reserve quota.

The count uses the ``cl100k_base`` byte-pair encoding from ``bpe-openai``,
whose vocabulary ships inside the wheel (``tiktoken`` downloads its data at
first use, which a sealed network forbids). Other providers' tokenizers
differ by some percent, so the count gets a 10% margin; the reservation is
settled to the provider's own figures afterwards anyway.
"""

import functools
import math
from typing import Any

# Per-message framing of the chat format (role, separators), as OpenAI counts it.
TOKENS_PER_MESSAGE = 4
TOKENS_PER_REPLY = 3
MARGIN = 1.10


@functools.cache
def _encoding() -> Any:
    import bpe_openai

    return bpe_openai.get_encoding("cl100k_base")


def text_tokens(text: str) -> int:
    """Return the number of ``cl100k_base`` tokens in ``text``."""
    if not text:
        return 0
    return len(_encoding().encode(text))


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

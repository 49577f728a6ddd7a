"""Count prompt tokens before calling a provider, to reserve quota.

The count uses the ``cl100k_base`` byte-pair encoding from ``bpe-openai``,
whose vocabulary ships inside the wheel (``tiktoken`` downloads its data at
first use, which a sealed network forbids). Other providers' tokenizers
differ by some percent, so the count gets a 10% margin; the reservation is
settled to the provider's own figures afterwards anyway.

Only the package's Rust tokenizer is loaded (see :func:`_tokenizer`).
"""

import functools
import importlib.machinery
import importlib.util
import math
from pathlib import Path
from typing import Any

# Per-message framing of the chat format (role, separators), as OpenAI counts it.
TOKENS_PER_MESSAGE = 4
TOKENS_PER_REPLY = 3
MARGIN = 1.10


@functools.cache
def _tokenizer() -> Any:
    """Return the Rust ``cl100k_base`` tokenizer of ``bpe-openai``.

    ``import bpe_openai`` builds, for its tiktoken-compatible wrapper, Python
    dictionaries of every vocabulary it ships (cl100k, o200k, voyage3):
    about 70 MB and half a second per process, on the first AI request. The
    count needs none of it, so the package's compiled module is loaded on
    its own (its ``count`` equals ``len(encode())``, and it counts special
    tokens such as ``<|endoftext|>`` as the plain text they are in a prompt,
    where the wrapper raised).
    """
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("bpe-openai is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    path = next(
        (
            str(found)
            for found in folder.glob("_bindings*")
            if found.name.endswith(suffixes)
        ),
        None,
    )
    if path is None:
        raise ImportError("bpe-openai has no compiled tokenizer")
    name = "bpe_openai._bindings"
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    module = importlib.util.module_from_spec(
        importlib.util.spec_from_loader(name, loader)
    )
    loader.exec_module(module)
    return module.tokenizer_for_encoding("cl100k_base")


def text_tokens(text: str) -> int:
    """Return the number of ``cl100k_base`` tokens in ``text``."""
    if not text:
        return 0
    return _tokenizer().count(text)


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
    _tokenizer.cache_clear()

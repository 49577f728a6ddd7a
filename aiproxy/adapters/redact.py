"""Make an upstream's error message safe to log and to return to a client.

Providers' error texts may quote a key ("invalid x-api-key sk-...") or carry
arbitrary length; what leaves an adapter is short, printable and key-free.
"""

import re
from collections.abc import Iterable

MAX_MESSAGE_CHARS = 200
# Things shaped like credentials: provider key prefixes, bearer tokens, AWS
# access key ids, and any long unbroken run of token characters.
_KEYLIKE = re.compile(
    r"(?:sk|pk|rk|key|api|ant|gsk|xai)[-_][A-Za-z0-9_\-]{6,}"
    r"|Bearer\s+\S+"
    r"|\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b"
    r"|[A-Za-z0-9_\-+/=]{32,}",
    re.IGNORECASE,
)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]+")


def sanitise(message: object, *, secrets: Iterable[str | None] = ()) -> str:
    """Return ``message`` without secrets or control characters, shortened."""
    text = str(message or "")
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _KEYLIKE.sub("[redacted]", text)
    text = _UNPRINTABLE.sub(" ", text).strip()
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1].rstrip() + "…"
    return text

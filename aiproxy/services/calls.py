"""A request reserved and on its way to the provider: what its settlement needs."""

import time
from dataclasses import dataclass

from aiproxy import tokens
from aiproxy.adapters.base import ChatRequest, Usage
from aiproxy.services.quota import Reservation


@dataclass(frozen=True)
class PreparedCall:
    """A reserved request, ready for the provider."""

    model_name: str
    provider: str
    request: ChatRequest
    reservation: Reservation
    prompt_estimate: int
    started: float


def elapsed_ms(call: PreparedCall) -> int:
    """Return the milliseconds since the request was admitted."""
    return int((time.perf_counter() - call.started) * 1000)


def charged_usage(call: PreparedCall, usage: Usage | None, text: str) -> Usage:
    """Return the usage to charge: the provider's, else counted from the text."""
    if not text and (usage is None or usage.completion_tokens == 0):
        return usage if usage is not None and usage.prompt_tokens else Usage(0, 0)
    completion = usage.completion_tokens if usage else 0
    prompt = usage.prompt_tokens if usage else 0
    return Usage(prompt or call.prompt_estimate, completion or tokens.text_tokens(text))

"""Settling requests: the ledger row finished, gathered on the database threads."""

import asyncio
import contextlib
import logging
import weakref
from typing import Any

from aiproxy.adapters.base import Usage
from aiproxy.models import UsageRecord
from aiproxy.services.calls import PreparedCall, elapsed_ms
from aiproxy.services.dbthreads import run_db
from aiproxy.services.quota import quota_settle, usage_cost
from project import metrics

logger = logging.getLogger(__name__)
Status = UsageRecord.Status
_background: set[asyncio.Task] = set()


class Settlements:
    """Settle requests on a database thread, gathering those that queue up.

    Settling took a hop to a database thread per request; under load each
    hop waited for the GIL. Requests finishing while a settlement is in
    flight are settled together in the next hop (one statement each, each
    its own transaction, so one failing does not undo the others). Each
    caller waits for its own settlement: a whole answer is sent, and a
    stream's last byte, only once its charge is written.
    """

    MAX_BATCH = 64

    def __init__(self) -> None:  # noqa: D107
        self._queue: list[tuple[dict[str, Any], asyncio.Future]] = []
        self._draining: asyncio.Task | None = None

    async def settle(self, **kwargs: Any) -> bool:
        """Settle one request (``quota_settle``'s arguments); return its result."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((kwargs, future))
        if self._draining is None:
            self._draining = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self.MAX_BATCH]
                del self._queue[: self.MAX_BATCH]
                try:
                    results = await run_db(
                        quota_settle_many, items=[kwargs for kwargs, _ in batch]
                    )
                except BaseException as exc:  # the hop itself failed
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._draining = None


_settlements: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Settlements]" = (
    weakref.WeakKeyDictionary()
)


def settlements_here() -> Settlements:
    """Return this event loop's settlement queue."""
    loop = asyncio.get_running_loop()
    queue = _settlements.get(loop)
    if queue is None:
        queue = _settlements[loop] = Settlements()
    return queue


def quota_settle_many(*, items: list[dict[str, Any]]) -> list[bool | Exception]:
    """Run ``quota_settle`` for each item; return each result or its error."""
    results: list[bool | Exception] = []
    for item in items:
        try:
            results.append(quota_settle(**item))
        except Exception as exc:  # noqa: BLE001 - handed to that request's caller
            results.append(exc)
    return results


async def settle(
    call: PreparedCall,
    *,
    status: str,
    usage: Usage,
    error_code: str = "",
    ttft_ms: int | None = None,
    latency_ms: int | None = None,
) -> None:
    """Settle ``call`` (waiting for it), then log and measure the request."""
    latency = elapsed_ms(call) if latency_ms is None else latency_ms
    await settlements_here().settle(
        reservation=call.reservation,
        status=status,
        usage=usage,
        error_code=error_code,
        latency_ms=latency,
        ttft_ms=ttft_ms,
    )
    logger.info(
        "ai request model=%s provider=%s status=%s error=%s prompt=%s completion=%s latency_ms=%s",
        call.model_name,
        call.provider,
        status,
        error_code or "-",
        usage.prompt_tokens,
        usage.completion_tokens,
        latency,
    )
    dimensions = {"model": call.model_name, "status": status}
    metrics.record(
        "AIRequestLatency", latency, unit="Milliseconds", dimensions=dimensions
    )
    metrics.record("AITokens", usage.total_tokens, unit="Count", dimensions=dimensions)
    # The spend alarm in infra/ sums this metric.
    cost = usage_cost(reservation=call.reservation, usage=usage)
    metrics.record("AICostUSD", float(cost), unit="None", dimensions=dimensions)


async def settle_shielded(call: PreparedCall, **kwargs: Any) -> None:
    """Settle even if the surrounding task is being cancelled (client gone)."""
    task = asyncio.ensure_future(settle(call, **kwargs))
    _background.add(task)
    task.add_done_callback(_background.discard)
    # Cancelled again: the task goes on and finishes the ledger row anyway.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.shield(task)


async def completion_abandon(*, call: PreparedCall) -> None:
    """Settle a reserved request whose client left before the provider was called."""
    await settle_shielded(
        call, status=Status.CANCELLED, usage=Usage(0, 0), error_code="cancelled"
    )

"""Rate limits shared by every process: fixed-window counters in the database.

DRF's stock throttles keep a timestamp list in the cache (two cache round
trips and a pickled list per request). These keep one counter row per
``scope:ident`` and update it with a single atomic UPSERT, so the cost is one
small write per throttled request and every gunicorn worker and Fargate task
sees the same count. On PostgreSQL the table is UNLOGGED (see migration
0001): counters need no crash safety and skip the WAL flush.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` and are read per
request, so ``settings`` overrides in tests apply. A rate is ``"<n>/<period>"``
where period is ``s``, ``m``/``min``, ``h``/``hour``, ``d``/``day``, optionally
with a multiplier (``"10/30s"``, ``"1000/5min"``). ``None`` disables a scope.

A window is fixed (``floor(now / period)``): at most ``n`` requests per
window, and ``Retry-After`` is the time left in the current window.

Writes are batched per process for generous rates. A hot client would
otherwise turn every request into a write on the same row; instead each
process admits up to ``batch - 1`` hits of a key from memory and writes them
in one UPSERT, where ``batch = n // 50`` (at most 100; rates under 100 per
window are counted on every request, as are all requests once a key's known
count is within ``batch`` of its limit). The shared count can therefore lag
by up to ``batch - 1`` hits per process, i.e. under 2 % of the rate each, and
a refusal is always decided on the database's count.
"""

import functools
import hashlib
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_KEY = 200
_BATCH_DIVISOR = 50  # batch = limit // 50: under 2 % of the rate per process
_MAX_BATCH = 100
_MAX_TALLIES = 10_000


@functools.lru_cache(maxsize=64)
def parse_rate(rate: str) -> tuple[int, int]:
    """Return ``(requests, period_seconds)`` for a rate such as ``"600/min"``.

    Rates are read per request (so settings overrides apply) but are a handful
    of strings: each is parsed once.
    """
    match = _RATE.match(rate)
    if match is None:
        raise ImproperlyConfigured(f"Invalid throttle rate {rate!r}")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * _UNITS[unit]


def rate_for_scope(scope: str) -> str | None:
    """Return the configured rate of ``scope``; unknown scopes are a bug."""
    rates = api_settings.DEFAULT_THROTTLE_RATES
    if scope not in rates:
        raise ImproperlyConfigured(f"No throttle rate set for scope {scope!r}")
    return rates[scope]


def batch_for(limit: int) -> int:
    """Return how many hits of a key a process may gather before writing them."""
    return max(1, min(limit // _BATCH_DIVISOR, _MAX_BATCH))


def throttle_hit(*, key: str, window_start: int, hits: int = 1) -> int:
    """Count ``hits`` requests against ``key`` in the window; return the new count."""
    table = connection.ops.quote_name("project_throttlebucket")
    k, w, h = (connection.ops.quote_name(c) for c in ("key", "window_start", "hits"))
    sql = (
        f"INSERT INTO {table} ({k}, {w}, {h}) VALUES (%s, %s, %s) "  # noqa: S608
        f"ON CONFLICT ({k}) DO UPDATE SET "
        f"{h} = CASE WHEN {table}.{w} = excluded.{w} "
        f"THEN {table}.{h} + excluded.{h} ELSE excluded.{h} END, "
        f"{w} = excluded.{w} "
        f"RETURNING {h}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, window_start, hits])
        return int(cursor.fetchone()[0])


@dataclass
class _Tally:
    window_start: int
    recorded: int = 0  # the shared count this process last read back
    pending: int = 0  # hits admitted here and not written yet


class LocalTallies:
    """This process's not-yet-written hits, per key (thread-safe)."""

    def __init__(self) -> None:
        self._tallies: dict[str, _Tally] = {}
        self._lock = threading.Lock()

    def hit(self, *, key: str, window_start: int, limit: int) -> bool:
        """Count one hit; return whether it was admitted, writing when due."""
        batch = batch_for(limit)
        with self._lock:
            tally = self._tallies.get(key)
            if tally is None or tally.window_start != window_start:
                if len(self._tallies) >= _MAX_TALLIES:
                    self._drop_other_windows(window_start)
                tally = self._tallies[key] = _Tally(window_start)
            tally.pending += 1
            if (
                tally.pending < batch
                and tally.recorded + tally.pending <= limit - batch
            ):
                return True  # well inside the budget: written with a later hit
            pending, tally.pending = tally.pending, 0
        total = throttle_hit(key=key, window_start=window_start, hits=pending)
        with self._lock:
            tally.recorded = max(tally.recorded, total)
        return total <= limit

    def _drop_other_windows(self, window_start: int) -> None:
        self._tallies = {
            k: t for k, t in self._tallies.items() if t.window_start == window_start
        }
        if len(self._tallies) >= _MAX_TALLIES:
            self._tallies.clear()  # a flood of keys: forget rather than grow

    def clear(self) -> None:
        """Forget every unwritten hit (tests)."""
        with self._lock:
            self._tallies.clear()


local_tallies = LocalTallies()


class DatabaseRateThrottle(BaseThrottle):
    """Base class: subclasses choose the scope and who is being counted."""

    scope: str | None = None
    timer = staticmethod(time.time)

    def __init__(self) -> None:
        self._wait: float | None = None

    def get_scope(self, request: Request, view: Any) -> str | None:
        """Return the scope to count this request in, or ``None`` to skip."""
        return self.scope

    def get_ident_for(self, request: Request) -> str | None:
        """Return who is counted: the user id if signed in, else the client IP."""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"u{user.pk}"
        return f"ip{self.get_ident(request)}"

    def allow_request(self, request: Request, view: Any) -> bool:
        """Count the request and refuse it once the window's budget is spent."""
        scope = self.get_scope(request, view)
        if not scope:
            return True
        ident = self.get_ident_for(request)
        if ident is None:
            return True
        rate = rate_for_scope(scope)
        if rate is None:
            return True
        limit, period = parse_rate(rate)
        key = f"{scope}:{ident}"
        if len(key) > _MAX_KEY:
            key = f"{scope}:h{hashlib.sha256(ident.encode()).hexdigest()}"
        now = self.timer()
        window_start = int(now // period) * period
        if local_tallies.hit(key=key, window_start=window_start, limit=limit):
            return True
        self._wait = max(window_start + period - now, 1)
        return False

    def wait(self) -> float | None:
        """Return the seconds left in the current window (``Retry-After``)."""
        return None if self._wait is None else math.ceil(self._wait)


class AnonRateThrottle(DatabaseRateThrottle):
    """Limit anonymous callers by client IP (rate ``anon``)."""

    scope = "anon"

    def get_ident_for(self, request: Request) -> str | None:
        """Count only anonymous requests."""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return None
        return f"ip{self.get_ident(request)}"


class UserRateThrottle(DatabaseRateThrottle):
    """Limit signed-in users by user id (rate ``user``)."""

    scope = "user"

    def get_ident_for(self, request: Request) -> str | None:
        """Count only signed-in requests."""
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return f"u{user.pk}"


class ScopedRateThrottle(DatabaseRateThrottle):
    """Limit views that set ``throttle_scope = "<scope>"`` at that scope's rate.

    Counted per user (or per IP when anonymous), on top of ``user``/``anon``.
    """

    def get_scope(self, request: Request, view: Any) -> str | None:
        """Return the view's ``throttle_scope``, if any."""
        return getattr(view, "throttle_scope", None)


class AnonScopedRateThrottle(ScopedRateThrottle):
    """Limit anonymous callers of a view's ``throttle_scope`` by client IP.

    For views that anyone may call (share links): signed-in callers are
    already counted by ``user``, and an editor's autosaves must not spend a
    budget sized for strangers.
    """

    def get_ident_for(self, request: Request) -> str | None:
        """Count only anonymous requests."""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return None
        return f"ip{self.get_ident(request)}"

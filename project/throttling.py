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
"""

import hashlib
import math
import re
import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_KEY = 200


def parse_rate(rate: str) -> tuple[int, int]:
    """Return ``(requests, period_seconds)`` for a rate such as ``"600/min"``."""
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


def throttle_hit(*, key: str, window_start: int) -> int:
    """Count one request against ``key`` in the window; return the new count."""
    table = connection.ops.quote_name("project_throttlebucket")
    k, w, h = (connection.ops.quote_name(c) for c in ("key", "window_start", "hits"))
    sql = (
        f"INSERT INTO {table} ({k}, {w}, {h}) VALUES (%s, %s, 1) "  # noqa: S608
        f"ON CONFLICT ({k}) DO UPDATE SET "
        f"{h} = CASE WHEN {table}.{w} = excluded.{w} THEN {table}.{h} + 1 ELSE 1 END, "
        f"{w} = excluded.{w} "
        f"RETURNING {h}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, window_start])
        return int(cursor.fetchone()[0])


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
        if throttle_hit(key=key, window_start=window_start) <= limit:
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

"""A short per-process memory of bearer tokens already accepted.

A client sends the same token with every request until it expires, and
accepting it costs each request an RS256 verification and a read of the user
row (about as much as the rest of a document read: BENCHMARKS.md). A token
accepted once is therefore remembered, with its user, for
``ACCOUNTS_AUTH_CACHE_SECONDS`` (default 10; 0 turns this off), never past
the token's own ``exp``.

The price is bounded staleness across processes: when a user is deactivated,
deleted or signed out everywhere, the process that made the change forgets
that user's tokens at once (see :func:`forget_user`), but another gunicorn
worker or Fargate task that accepted one of those tokens in the last
``ACCOUNTS_AUTH_CACHE_SECONDS`` keeps accepting it until its entry expires.
The database stays the only source of truth; nothing here is shared state.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.conf import settings

from accounts.models import User

MAX_ENTRIES = 4096


def _clone(user: User) -> User:
    """Return a shallow copy of ``user`` with its own state and no cached relations.

    Each request gets its own instance, as views may set attributes on it.
    ``copy.copy`` of a model goes through pickling's ``__reduce__`` and
    ``__setstate__`` (a Django version check included), and of its state
    through ``copyreg``: together ~5 % of a document read's Python time. The
    same shallow copies are made here directly.
    """
    clone = user.__class__.__new__(user.__class__)
    clone.__dict__.update(user.__dict__)
    state = user._state  # noqa: SLF001 - per-instance state
    clone._state = state.__class__.__new__(state.__class__)  # noqa: SLF001
    clone._state.__dict__.update(state.__dict__)  # noqa: SLF001
    clone._state.fields_cache = {}  # noqa: SLF001
    return clone


class AcceptedTokens:
    """LRU map of ``token → (user, claims, expires_at)``, safe across threads."""

    def __init__(
        self, *, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.time
    ) -> None:
        self._entries: OrderedDict[str, tuple[User, dict[str, Any], float]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self._clock = clock

    def get(self, token: str) -> tuple[User, dict[str, Any]] | None:
        """Return a copy of the remembered user and the claims, or ``None``."""
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                return None
            user, claims, expires_at = entry
            if self._clock() >= expires_at:
                del self._entries[token]
                return None
            self._entries.move_to_end(token)
        return _clone(user), claims

    def put(self, token: str, user: User, claims: dict[str, Any]) -> None:
        """Remember an accepted token for the configured time, within its ``exp``."""
        ttl = settings.ACCOUNTS_AUTH_CACHE_SECONDS
        if ttl <= 0:
            return
        expires_at = min(self._clock() + ttl, float(claims.get("exp", 0)))
        if expires_at <= self._clock():
            return
        with self._lock:
            self._entries[token] = (user, claims, expires_at)
            self._entries.move_to_end(token)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def forget_user(self, user_id: Any) -> None:
        """Drop every remembered token of one user (after a change to the user)."""
        with self._lock:
            stale = [t for t, (u, _c, _e) in self._entries.items() if u.pk == user_id]
            for token in stale:
                del self._entries[token]

    def clear(self) -> None:
        """Forget everything (tests, settings changes)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


accepted_tokens = AcceptedTokens()


def forget_user(user_id: Any) -> None:
    """Make this process re-check ``user_id``'s tokens on their next use."""
    accepted_tokens.forget_user(user_id)


def forget_saved_user(sender: type, instance: User, **kwargs: Any) -> None:
    """Signal receiver: forget the tokens of a user row that was saved or deleted."""
    forget_user(instance.pk)

"""Database work from async code: a small pool of database threads per process."""

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections

from asgiref.sync import sync_to_async

T = TypeVar("T")

_db_pool: ThreadPoolExecutor | None = None
_db_pool_lock = threading.Lock()


def db_executor() -> ThreadPoolExecutor:
    """Return this process's pool of database threads (created on first use).

    Created lazily, so a forked worker builds its own. Each thread keeps its
    own Django connection, reused from hop to hop.
    """
    global _db_pool  # noqa: PLW0603 - one pool per process
    if _db_pool is None:
        with _db_pool_lock:
            if _db_pool is None:
                _db_pool = ThreadPoolExecutor(
                    max_workers=settings.AI_DB_THREADS, thread_name_prefix="ai-db"
                )
    return _db_pool


def _call_checked(fn: Callable[..., T], kwargs: dict[str, Any]) -> T:
    # A hop is handled like a request: broken or expired connections go
    # (CONN_HEALTH_CHECKS, CONN_MAX_AGE).
    close_old_connections()
    return fn(**kwargs)


async def run_db(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Run ``fn(**kwargs)`` (ORM work) off the event loop.

    With ``AI_DB_THREAD_SENSITIVE`` off (serving), calls run on this
    process's pool of ``AI_DB_THREADS`` database threads, so many streams
    settle in parallel instead of queueing on Django's single
    thread-sensitive thread; the context (request id for logs) goes along.
    With it on (the test client), Django's thread-sensitive thread is used.
    """
    if settings.AI_DB_THREAD_SENSITIVE:
        return await sync_to_async(fn, thread_sensitive=True)(**kwargs)
    context = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        db_executor(), context.run, _call_checked, fn, kwargs
    )

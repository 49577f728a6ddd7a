"""Liveness and readiness checks for the load balancer.

``/healthz`` touches nothing: the process is alive. ``/readyz`` checks the
database and the file storage, each in a worker thread with a deadline
(``READYZ_TIMEOUT``, seconds), so a hung dependency answers 503 within the
deadline instead of holding the request until the ALB gives up.
"""

import concurrent.futures
import logging
import os
from collections.abc import Callable

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)

# Few threads: a check that hangs keeps its thread until the dependency gives
# up; later checks then time out as well, which is the truthful answer.
_executor = concurrent.futures.ThreadPoolExecutor(
    max_workers=4, thread_name_prefix="readyz"
)


def check_database() -> None:
    """Run ``SELECT 1`` on a connection of this thread, then close it."""
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                timeout_ms = int(float(settings.READYZ_TIMEOUT) * 1000)
                # set_config(), not SET: a SET takes no bound parameter when
                # parameters are bound on the server (server_side_binding).
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, false)",
                    [str(timeout_ms)],
                )
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def check_storage() -> None:
    """Reach the file storage: the bucket for S3, the media folder locally."""
    storage = default_storage
    if isinstance(storage, FileSystemStorage):
        location = str(storage.location)
        os.makedirs(location, exist_ok=True)
        if not os.access(location, os.W_OK):
            raise PermissionError("media folder is not writable")
        return
    bucket_name = getattr(storage, "bucket_name", None)
    if bucket_name:
        # HEAD on the bucket: needs only s3:ListBucket, reads no object.
        storage.connection.meta.client.head_bucket(Bucket=bucket_name)
        return
    storage.exists(".readyz")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "storage": check_storage,
}


def run_checks() -> dict[str, str]:
    """Run every check in parallel; return ``{name: ok|unavailable|timeout}``."""
    timeout = float(settings.READYZ_TIMEOUT)
    futures = {name: _executor.submit(check) for name, check in CHECKS.items()}
    done, _ = concurrent.futures.wait(futures.values(), timeout=timeout)
    results: dict[str, str] = {}
    for name, future in futures.items():
        if future not in done:
            future.cancel()
            results[name] = "timeout"
            logger.warning("readiness check %s timed out", name)
            continue
        error = future.exception()
        if error is None:
            results[name] = "ok"
        else:
            results[name] = "unavailable"
            logger.warning("readiness check %s failed: %s", name, type(error).__name__)
    return results


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 while the process can serve; touches no dependency."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when database and storage answer, else 503 naming what failed."""
    checks = run_checks()
    failed = sorted(name for name, value in checks.items() if value != "ok")
    body: dict[str, object] = {
        "status": "unavailable" if failed else "ok",
        "checks": checks,
    }
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)

"""Idempotent create endpoints: honour the ``Idempotency-Key`` request header.

Usage (one line on an ``APIView`` method that creates something)::

    from project.idempotency import idempotent

    class DocumentListCreateApi(APIView):
        @idempotent
        def post(self, request): ...

A client that sends ``Idempotency-Key: <unique string>`` with a POST can retry
it safely (timeouts, dropped connections):

- the first request runs the view; its response (status, JSON body and the
  ``Location``/``ETag``/``Last-Modified``/``Content-Location``/``Link``
  headers) is stored per (user, key) for ``IDEMPOTENCY_KEY_TTL`` seconds
  (24 h by default);
- a retry with the same key and the same request (a SHA-256 of method, path
  with query string and body) gets that stored response back, with
  ``Idempotent-Replayed: true``, and the view does not run again;
- the same key with a different request is 422 ``idempotency_key_reused``;
- a retry while the first request is still running is 409
  ``idempotency_in_progress`` (with ``Retry-After``). The (user, key) unique
  constraint decides which of two concurrent requests runs;
- only final outcomes are stored: 2xx, and 4xx other than 408/409/423/425/429.
  A 5xx, a transient 4xx or a crash frees the key so the retry runs the view;
- a key is 1-255 printable ASCII characters (no spaces), else 400
  ``idempotency_key_invalid``.

Requests without the header, and anonymous requests, run unchanged. The view
must return a DRF ``Response`` to be stored. Multipart bodies (streamed
uploads) are not read for the fingerprint: their content type and length
stand in for the bytes. If a process dies mid-request its key is "in
progress" until ``IDEMPOTENCY_LOCK_TIMEOUT`` seconds pass, then a retry takes
it over. The view's own writes commit on their own, as without the header.
Expired rows are deleted by ``manage.py purge_idempotency_keys`` (and are
ignored and replaced on lookup).
"""

import functools
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rest_framework import status as http_status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from project.exceptions import ApplicationError
from project.models import IdempotencyKey

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
STORED_HEADERS = ("Location", "ETag", "Last-Modified", "Content-Location", "Link")
TRANSIENT_STATUSES = frozenset({408, 409, 423, 425, 429})
# Declared as the header's schema pattern (project.schema), checked here.
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
_KEY_PATTERN = re.compile(KEY_PATTERN)


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: run the view (``record``) or ``replay``."""

    record: IdempotencyKey | None = None
    replay: Response | None = None


def request_fingerprint(request: Request) -> str:
    """Return a SHA-256 of the request's method, path, query string and body."""
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b"\n")
    digest.update(request.get_full_path().encode() + b"\n")
    content_type = request.content_type or ""
    if content_type.startswith("multipart/"):
        # A streamed upload must not be buffered here to be hashed.
        length = request.META.get("CONTENT_LENGTH", "")
        digest.update(f"multipart;length={length}".encode())
    else:
        digest.update(request.body)
    return digest.hexdigest()


def _is_final(status: int) -> bool:
    if 200 <= status < 300:
        return True
    return 400 <= status < 500 and status not in TRANSIENT_STATUSES


def _in_progress_error() -> ApplicationError:
    return ApplicationError(
        _("A request with this Idempotency-Key is still being processed."),
        code="idempotency_in_progress",
        status=http_status.HTTP_409_CONFLICT,
        headers={"Retry-After": "1"},
    )


def idempotency_replay(*, record: IdempotencyKey) -> Response:
    """Return the stored response of a completed key."""
    data = json.loads(record.response_body) if record.response_body else None
    return Response(
        data,
        status=record.response_status,
        headers={**record.response_headers, REPLAYED_HEADER: "true"},
    )


def idempotency_claim(*, user: Any, key: str, request_hash: str) -> Claim:
    """Claim ``key`` for this request, or return the stored response to replay.

    Raise 400 for a malformed key, 422 when the key was used for another
    request and 409 while the first request with the key is still running.
    """
    if not _KEY_PATTERN.fullmatch(key):
        raise ApplicationError(
            _("Idempotency-Key must be 1 to 255 printable ASCII characters."),
            code="idempotency_key_invalid",
        )
    now = timezone.now()
    for _attempt in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    user=user,
                    key=key,
                    request_hash=request_hash,
                    expires_at=now + timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL),
                )
            return Claim(record=record)
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(user=user, key=key).first()
        if existing is None:
            continue  # freed in the meantime: claim it again
        if existing.expires_at <= now:
            IdempotencyKey.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
            continue
        if existing.request_hash != request_hash:
            raise ApplicationError(
                _("This Idempotency-Key was used for a different request."),
                code="idempotency_key_reused",
                status=http_status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        if existing.response_status is not None:
            return Claim(replay=idempotency_replay(record=existing))
        stale_before = now - timedelta(seconds=settings.IDEMPOTENCY_LOCK_TIMEOUT)
        if existing.updated_at < stale_before:
            taken = IdempotencyKey.objects.filter(
                pk=existing.pk,
                response_status__isnull=True,
                updated_at=existing.updated_at,
            ).update(updated_at=now)
            if taken:
                return Claim(record=existing)
        raise _in_progress_error()
    raise _in_progress_error()


def idempotency_release(*, record: IdempotencyKey) -> None:
    """Free an unfinished key so that a retry runs the view again."""
    IdempotencyKey.objects.filter(pk=record.pk, response_status__isnull=True).delete()


def idempotency_complete(*, record: IdempotencyKey, response: Any) -> None:
    """Store a final response for the key, or free the key for any other."""
    status = getattr(response, "status_code", 500)
    if not isinstance(response, Response) or not _is_final(status):
        idempotency_release(record=record)
        return
    body = ""
    if response.data is not None:
        body = json.dumps(response.data, cls=JSONEncoder, ensure_ascii=False)
    headers = {name: response[name] for name in STORED_HEADERS if name in response}
    IdempotencyKey.objects.filter(pk=record.pk).update(
        response_status=status,
        response_body=body,
        response_headers=headers,
        updated_at=timezone.now(),
    )


def idempotent(view_method: Callable[..., Any]) -> Callable[..., Any]:
    """Make an APIView method honour ``Idempotency-Key`` (see module docstring)."""

    @functools.wraps(view_method)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(KEY_HEADER)
        user = getattr(request, "user", None)
        if key is None or user is None or not user.is_authenticated:
            return view_method(view, request, *args, **kwargs)
        claim = idempotency_claim(
            user=user, key=key, request_hash=request_fingerprint(request)
        )
        if claim.replay is not None:
            return claim.replay
        try:
            try:
                response = view_method(view, request, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - shaped like DRF's dispatch
                response = view.handle_exception(exc)
        except BaseException:
            idempotency_release(record=claim.record)
            raise
        idempotency_complete(record=claim.record, response=response)
        return response

    wrapper.idempotent = True  # type: ignore[attr-defined]
    return wrapper

"""Requests refused before the provider is called, kept in the ledger for support.

A refused request (unknown model, invalid body, over quota, provider not
configured...) costs nothing and reserves nothing, but support needs to see
it: "why does the AI say 429?" is answered by the user's ledger rows. Each
refusal is one ``INSERT`` of a ``refused`` row with the error code and zero
tokens; the quota counters are never touched, and totals of requests that
count (``/ai/usage``) leave these rows out.
"""

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, transaction
from django.utils import timezone

from rest_framework import exceptions as drf_exceptions

from aiproxy.models import UsageRecord
from aiproxy.selectors import period_start_for
from project.exceptions import ApplicationError

if TYPE_CHECKING:
    from accounts.models import User
    from aiproxy.models import AIModel
    from documents.models import Document

logger = logging.getLogger(__name__)
_MODEL_NAME_MAX = UsageRecord._meta.get_field("model_name").max_length or 100


@dataclass
class Asked:
    """What is known of a request when it is refused; filled in as it is checked."""

    model_name: str = ""
    model: "AIModel | None" = None
    is_stream: bool = False
    document: "Document | None" = None
    action: str = ""


def refusal_code(exc: BaseException) -> str | None:
    """Return the error code a refusal answers with, or None if not a refusal."""
    if isinstance(exc, ApplicationError):
        return exc.code
    if isinstance(exc, RequestDataTooBig):
        return "request_too_large"
    if isinstance(exc, drf_exceptions.ValidationError):
        return "invalid"
    if isinstance(exc, drf_exceptions.APIException):
        return str(exc.default_code)
    return None


def usage_refusal_record(*, user: "User", asked: Asked, error_code: str) -> None:
    """Write the ``refused`` ledger row of a request: its code, no tokens, no cost.

    A failure to write it is logged and swallowed: the client still gets the
    refusal it earned, not a 500.
    """
    now = timezone.now()
    model = asked.model
    try:
        with transaction.atomic():
            UsageRecord.objects.create(
                user=user,
                model=model,
                model_name=(model.name if model else asked.model_name)[
                    :_MODEL_NAME_MAX
                ],
                provider=model.provider if model else "",
                period_start=period_start_for(now),
                is_stream=asked.is_stream,
                status=UsageRecord.Status.REFUSED,
                error_code=error_code[:50],
                settled_at=now,
                document=asked.document,
                action=asked.action,
            )
    except DatabaseError:
        logger.exception("refused AI request not recorded (code %s)", error_code)


@contextlib.contextmanager
def refusals_recorded(*, user: "User", asked: Asked | None = None) -> Iterator[Asked]:
    """Record a refusal raised in the block (then re-raise it).

    The block fills the yielded :class:`Asked` as it learns the model, the
    document and the action, so the row says what was asked for.
    """
    asked = asked if asked is not None else Asked()
    try:
        yield asked
    except Exception as exc:
        code = refusal_code(exc)
        if code is not None:
            usage_refusal_record(user=user, asked=asked, error_code=code)
        raise


def asked_model_name(data: Any) -> str:
    """Return the ``model`` a raw request body names, if it names one."""
    if isinstance(data, dict) and isinstance(data.get("model"), str):
        return data["model"]
    return ""

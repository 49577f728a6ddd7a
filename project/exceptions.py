"""Domain errors and the one DRF exception handler that shapes every API error.

Every error body is ``{"detail": str, "code": str}``; validation errors add
``"fields"``. Headers set by DRF (``Retry-After``, ``WWW-Authenticate``) are
kept because only ``response.data`` is replaced.
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError

from rest_framework import exceptions as drf_exceptions
from rest_framework import status as http_status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler


class ApplicationError(Exception):
    """A domain rule was broken; the view answers with ``status`` and ``code``."""

    def __init__(
        self,
        detail: str,
        *,
        code: str = "error",
        status: int = http_status.HTTP_400_BAD_REQUEST,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.status = status
        self.extra = extra or {}
        self.headers = headers or {}


class NotFound(ApplicationError):
    """The resource does not exist or the caller may not see it."""

    def __init__(self, detail: str = "Not found.", *, code: str = "not_found") -> None:
        super().__init__(detail, code=code, status=http_status.HTTP_404_NOT_FOUND)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn any exception raised in an API view into the ``{detail, code}`` shape."""
    if isinstance(exc, ApplicationError):
        body = {"detail": str(exc.detail), "code": exc.code, **exc.extra}
        return Response(body, status=exc.status, headers=exc.headers)
    if isinstance(exc, DjangoValidationError):
        exc = drf_exceptions.ValidationError(as_serializer_error(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        response.data = {
            "detail": "Invalid input.",
            "code": "invalid",
            "fields": response.data,
        }
    else:
        detail = (
            response.data.get("detail", "") if isinstance(response.data, dict) else ""
        )
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = {"detail": str(detail), "code": code}
    return response

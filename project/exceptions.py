"""Domain errors and the one DRF exception handler that shapes every API error.

Every error body is ``{"detail": str, "code": str}``; validation errors add
``"fields"``. Headers set by DRF (``Retry-After``, ``WWW-Authenticate``) are
kept because only ``response.data`` is replaced.
"""

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from django.utils.translation import gettext_lazy as _
from django.views import defaults

from rest_framework import exceptions as drf_exceptions
from rest_framework import status as http_status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


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
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": str(_("Request body is too large.")), "code": "too_large"},
            status=http_status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
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


# --- Errors raised outside DRF views -------------------------------------------
# Django's own error views answer HTML. Under /api/ a client expects the same
# JSON shape as from DRF views; elsewhere (the admin) the HTML pages stay.


def is_api_request(request: HttpRequest) -> bool:
    """Return whether the request is for the JSON API (``/api/...``)."""
    return request.path.startswith(API_PREFIX)


def error_response(detail: str, code: str, status: int) -> JsonResponse:
    """Return a plain Django JSON response in the ``{detail, code}`` shape."""
    return JsonResponse({"detail": str(detail), "code": code}, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Answer 400 (``handler400``): JSON under /api/, Django's page elsewhere."""
    if is_api_request(request):
        if isinstance(exception, RequestDataTooBig):
            return error_response(_("Request body is too large."), "too_large", 413)
        return error_response(_("Bad request."), "bad_request", 400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Answer 403 (``handler403``): JSON under /api/, Django's page elsewhere."""
    if is_api_request(request):
        return error_response(
            _("You do not have permission to perform this action."),
            "permission_denied",
            403,
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Answer 404 (``handler404``): JSON under /api/, Django's page elsewhere."""
    if is_api_request(request):
        return error_response(_("Not found."), "not_found", 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Answer 500 (``handler500``) without any detail of what went wrong."""
    if is_api_request(request):
        return error_response(_("A server error occurred."), "server_error", 500)
    return defaults.server_error(request)


class ApiErrorMiddleware(MiddlewareMixin):
    """Shape ``ApplicationError``/DRF errors raised by plain (non-DRF) API views.

    Async views (the AI streaming routes) are plain Django views; an
    ``ApplicationError`` they raise becomes the same JSON as from a DRF view.
    A request whose account was deleted while it ran (its writes then break
    the foreign key to the user) answers 401 ``account_deleted``, as the
    next request will. Anything else falls through to ``server_error``.
    """

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        """Return the JSON error for known API errors, else let Django handle it."""
        if not is_api_request(request):
            return None
        if isinstance(exception, ApplicationError):
            response = JsonResponse(
                {
                    "detail": str(exception.detail),
                    "code": exception.code,
                    **exception.extra,
                },
                status=exception.status,
            )
            for name, value in exception.headers.items():
                response[name] = value
            return response
        if isinstance(exception, drf_exceptions.APIException):
            response = api_exception_handler(exception, {})
            if response is None:  # pragma: no cover - APIException always maps
                return None
            json_response = JsonResponse(response.data, status=response.status_code)
            for name, value in response.items():
                if name.lower() != "content-type":
                    json_response[name] = value
            return json_response
        if isinstance(exception, IntegrityError) and _user_deleted(request):
            response = error_response(
                _("This account has been deleted."), "account_deleted", 401
            )
            response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        return None


def _user_deleted(request: HttpRequest) -> bool:
    """Return whether the request's user was deleted since it was authenticated."""
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False) or user.pk is None:
        return False
    return not get_user_model().objects.filter(pk=user.pk).exists()

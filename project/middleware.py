"""Request id, one JSON log line and request metrics per request; the URL limit."""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

from asgiref.sync import iscoroutinefunction

from project import metrics
from project.asyncmiddleware import request_user_resolved
from project.exceptions import error_response, is_api_request
from project.logging import RequestContext, user_id_var
from project.schema import URL_TOO_LONG_CODE

logger = logging.getLogger("quire.request")


def _user_id(request: HttpRequest) -> str | None:
    """Return the signed-in user's id without forcing a lazy session lookup."""
    user = getattr(request, "user", None)
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject) and not request_user_resolved(request):
        return None
    if getattr(user, "is_authenticated", False):
        return str(user.pk)
    return None


def _route(request: HttpRequest, response: HttpResponse) -> str:
    """Return the URL pattern that served the request (bounded cardinality)."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return "/" + match.route
    if response.status_code == 404:
        return "unmatched"
    path = request.path
    static_url = "/static/"
    if path.startswith(static_url):
        return static_url
    return "unmatched"


def request_log_finish(
    request: HttpRequest, response: HttpResponse, context: RequestContext
) -> None:
    """Log and measure an answered request; echo its id (also ``aiproxy.asgi``)."""
    duration_ms = round((time.perf_counter() - context.started) * 1000, 3)
    user_id = _user_id(request)
    if user_id:
        user_id_var.set(user_id)
    response["X-Request-ID"] = context.request_id
    status = response.status_code
    level = logging.INFO
    if status >= 500:
        level = logging.ERROR
    logger.log(
        level,
        "%s %s %s",
        request.method,
        request.path,
        status,
        extra={
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": duration_ms,
            "trace_id": request.META.get("HTTP_X_AMZN_TRACE_ID"),
        },
    )
    route = _route(request, response)
    # One dimension, the route pattern, and a 5xx count only when there is
    # one: a metric series costs in the hours it gets data, so a route costs
    # one series, two in an hour with errors (RequestLatency's SampleCount
    # is the request count). The ALB and API Gateway already count requests,
    # 5xx and latency per service; method and status stay searchable in Logs
    # Insights as properties.
    values = {"RequestLatency": (duration_ms, "Milliseconds")}
    if status >= 500:
        values["Errors5xx"] = (1, "Count")
    metrics.record_many(
        values,
        dimensions={"Route": route},
        properties={
            "method": request.method or "",
            "status": status,
            "status_class": f"{status // 100}xx",
            "request_id": context.request_id,
        },
    )


@sync_and_async_middleware
def request_log_middleware(
    get_response: Callable[[HttpRequest], Any],
) -> Callable[[HttpRequest], Any]:
    """Tag the request with an id, then log and measure it once it is answered.

    The id is the caller's ``X-Request-ID`` when well formed (the ALB or a
    client may set one), else a new one; the response echoes it. Streaming
    responses are measured to the first byte.
    """
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            context = RequestContext(request)
            try:
                response = await get_response(request)
                request_log_finish(request, response, context)
                return response
            finally:
                context.close()

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        context = RequestContext(request)
        try:
            response = get_response(request)
            request_log_finish(request, response, context)
            return response
        finally:
            context.close()

    return middleware


def url_too_long(request: HttpRequest) -> HttpResponse | None:
    """Return the 414 for a request whose URL passes ``MAX_URL_BYTES``, else None.

    The servers in front have their own, larger, limits (gunicorn's request
    line, raised to its maximum in ``gunicorn.conf.py``; uvicorn's parser),
    answered as their own HTML or text pages; below them, this answers first,
    in the API's JSON shape under ``/api/``.
    """
    limit = settings.MAX_URL_BYTES
    query = request.META.get("QUERY_STRING", "")
    # The common case, known without encoding: a path character is at most
    # 12 bytes percent-encoded (4 UTF-8 bytes); the query string is raw.
    if len(query) + 12 * len(request.path) <= limit:
        return None
    size = len(request.get_full_path().encode())
    if size <= limit:
        return None
    detail = _("The URL is too long (%(size)d bytes; at most %(limit)d).") % {
        "size": size,
        "limit": limit,
    }
    if is_api_request(request):
        return error_response(detail, URL_TOO_LONG_CODE, 414)
    return HttpResponse(detail, status=414, content_type="text/plain; charset=utf-8")


@sync_and_async_middleware
def url_length_middleware(
    get_response: Callable[[HttpRequest], Any],
) -> Callable[[HttpRequest], Any]:
    """Answer 414 ``url_too_long`` before any work for an overlong URL."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            return url_too_long(request) or await get_response(request)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        return url_too_long(request) or get_response(request)

    return middleware

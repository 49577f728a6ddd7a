"""A lean ASGI entry for the AI proxy's POST routes, in front of Django's handler.

Why: Django's ASGI handler costs about 0.7 ms of CPU per request before any
view code, even with no middleware (a new thread per request for its
thread-sensitive context, the ``request_started``/``request_finished``
signals through ``sync_to_async``), and each ``MiddlewareMixin`` middleware
adds two thread hops (measured in BENCHMARKS.md, "AI proxy"). The AI routes
answer bearer-token JSON and hold streams, so that cost was most of their
time. Here, ``POST`` requests to the async AI views (:class:`AsyncApiView`:
chat completions, document actions) are served by the same view classes
without it; anything else goes to Django unchanged.

What is kept: the request id, the JSON access-log line and request metrics
(``project.middleware``); the response headers of the security, CSP and
X-Frame-Options middleware (their own hooks are called, so settings apply
as usual); ``ALLOWED_HOSTS`` and the HTTPS redirect (such requests are
handed to Django, body included); the ``{detail, code}`` errors and a JSON
500 for anything unexpected; a client that disconnects cancels the view
(and with it the upstream call), as in Django's handler. Not applied:
sessions, authentication by cookie, messages and CSRF (bearer tokens only;
the views are CSRF-exempt anyway) and static files.
"""

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, ResolverMatch, resolve
from django.utils.log import log_response
from django.utils.module_loading import import_string

from aiproxy.views import AsyncApiView
from project.exceptions import server_error
from project.logging import RequestContext
from project.middleware import request_log_finish

logger = logging.getLogger(__name__)

ASGIApp = Callable[[dict, Callable, Callable], Awaitable[None]]

# Middleware whose hooks only add response headers (or redirect to HTTPS):
# applied here, in ``settings.MIDDLEWARE`` order, when listed there.
HEADER_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
_MAX_CACHED_PATHS = 1024


def _not_called(request: HttpRequest) -> HttpResponse:  # pragma: no cover
    raise AssertionError("header middleware is called through its hooks only")


class AIRoutes:
    """Serve ``POST`` to the async AI views; hand everything else to ``django``."""

    def __init__(self, django: ASGIApp) -> None:  # noqa: D107
        self.django = django
        self._matches: dict[str, ResolverMatch | None] = {}
        self._middleware: list[Any] | None = None
        self._stamps: dict[tuple, list[tuple[str, str]]] = {}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        """Route one ASGI connection."""
        if scope["type"] == "http" and scope["method"] == "POST":
            match = self._match(scope)
            if match is not None:
                await self._serve(match, scope, receive, send)
                return
        await self.django(scope, receive, send)

    # -- routing ---------------------------------------------------------------

    def _match(self, scope: dict) -> ResolverMatch | None:
        """Return the URL match when it is an async AI view, else None."""
        if scope.get("root_path"):
            return None  # mounted under a prefix: leave it all to Django
        path = scope["path"]
        try:
            return self._matches[path]
        except KeyError:
            pass
        try:
            match: ResolverMatch | None = resolve(path)
        except Resolver404:
            match = None
        view_class = getattr(match.func, "view_class", None) if match else None
        if not (isinstance(view_class, type) and issubclass(view_class, AsyncApiView)):
            match = None
        if len(self._matches) < _MAX_CACHED_PATHS:
            self._matches[path] = match
        return match

    def _header_middleware(self) -> list[Any]:
        if self._middleware is None:
            self._middleware = [
                import_string(path)(_not_called)
                for path in settings.MIDDLEWARE
                if path in HEADER_MIDDLEWARE
            ]
        return self._middleware

    def _add_headers(
        self, request: HttpRequest, match: ResolverMatch, response: HttpResponseBase
    ) -> None:
        """Add the header middleware's response headers.

        What they add depends on the request's scheme and route and the
        response's status, not on its content (the AI views set no CSP or
        framing attributes on their responses), so it is worked out once per
        such key by running their hooks on an empty response, then copied:
        building the CSP header alone cost more than the rest of this entry.
        """
        key = (request.is_secure(), match.route, response.status_code)
        stamp = self._stamps.get(key)
        if stamp is None:
            probe: HttpResponseBase = HttpResponse(status=response.status_code)
            for middleware in self._header_middleware():
                probe = middleware.process_response(request, probe)
            stamp = [
                (name, value)
                for name, value in probe.items()
                if name.lower() not in {"content-type", "content-length"}
            ]
            if len(self._stamps) < _MAX_CACHED_PATHS:
                self._stamps[key] = stamp
        for name, value in stamp:
            if name not in response:
                response[name] = value

    # -- one request -------------------------------------------------------------

    async def _serve(
        self, match: ResolverMatch, scope: dict, receive: Callable, send: Callable
    ) -> None:
        limit = settings.AI_MAX_BODY_BYTES
        if _declared_length(scope) > limit:
            body = b""  # not read: the view answers 413 on the declared length
        else:
            body = await _read_body(receive, limit + 1)
            if body is None:
                return  # the client left before sending its request
        request = ASGIRequest(scope, io.BytesIO(body))
        if not self._admissible(request):
            await self.django(scope, _replay(body, receive), send)
            return
        request.resolver_match = match
        deferred: list[Callable[[], Awaitable[None]]] = []
        request.after_response = deferred.append  # type: ignore[attr-defined]
        respond = asyncio.ensure_future(self._respond(request, match, send))
        listen = asyncio.ensure_future(_disconnected(receive))
        await asyncio.wait([respond, listen], return_when=asyncio.FIRST_COMPLETED)
        if not respond.done():
            # The client left: cancel the view, and with it the upstream call
            # (the view settles the request for what was produced).
            respond.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await respond
        listen.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listen
        await _run_deferred(deferred)

    def _admissible(self, request: ASGIRequest) -> bool:
        """Return whether the request needs nothing but the lean path.

        An unknown host (400) or plain HTTP under ``SECURE_SSL_REDIRECT``
        (301) is answered by Django with its whole middleware.
        """
        try:
            request.get_host()
        except DisallowedHost:
            return False
        for middleware in self._header_middleware():
            hook = getattr(middleware, "process_request", None)
            if hook is not None and hook(request) is not None:
                return False
        return True

    async def _respond(
        self, request: ASGIRequest, match: ResolverMatch, send: Callable
    ) -> None:
        context = RequestContext(request)
        try:
            try:
                response = await match.func(request, *match.args, **match.kwargs)
            except Exception as exc:  # noqa: BLE001 - answered as Django would
                response = server_error(request)
                log_response(
                    "%s: %s",
                    "Internal Server Error",
                    request.path,
                    response=response,
                    request=request,
                    exception=exc,
                )
            self._add_headers(request, match, response)
            request_log_finish(request, response, context)
            await _send_response(response, send)
        finally:
            context.close()


async def _run_deferred(deferred: list[Callable[[], Awaitable[None]]]) -> None:
    """Run the work a view left for after its response (the ledger's settlement).

    It runs in the request's own task, so a graceful shutdown waits for it;
    a failure is logged, never sent: the client already has its answer.
    """
    for work in deferred:
        try:
            await work()
        except Exception:
            logger.exception("work after the response failed")


def _declared_length(scope: dict) -> int:
    """Return the request's ``Content-Length`` (0 when absent or malformed)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _read_body(receive: Callable, limit: int) -> bytes | None:
    """Return the request body, or None if the client disconnected first.

    At most ``limit`` bytes are kept (the view answers 413 beyond its
    limit); the rest is read and dropped, so memory stays bounded.
    """
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if size < limit:
            chunk = chunk[: limit - size]
            parts.append(chunk)
            size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive: Callable) -> Callable:
    """Return a ``receive`` giving ``body`` first, then the real messages."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _disconnected(receive: Callable) -> None:
    """Return when the client disconnects (or the server ends the request)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _send_response(response: HttpResponseBase, send: Callable) -> None:
    """Send ``response`` over ASGI, as Django's handler does."""
    if not response.streaming and not response.has_header("Content-Length"):
        response.headers["Content-Length"] = str(len(response.content))
    headers = [
        (name.encode("ascii"), value.encode("latin-1"))
        for name, value in response.items()
    ]
    for cookie in response.cookies.values():
        headers.append((b"Set-Cookie", cookie.output(header="").encode().strip()))
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": headers,
        }
    )
    if not response.streaming:
        await send({"type": "http.response.body", "body": response.content})
        return
    async with contextlib.aclosing(aiter(response)) as content:
        async for part in content:
            await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def with_ai_routes(django: ASGIApp) -> ASGIApp:
    """Return ``django`` with the AI POST routes served by :class:`AIRoutes`."""
    return AIRoutes(django)

"""Async-native versions of the sync-first middleware Quire uses.

``settings.MIDDLEWARE`` is one list for both entry points: the threaded WSGI
workers (REST API, admin) and the ASGI worker (streaming AI routes, and
everything under ``make run``). Under ASGI, Django runs a middleware that is
not async-capable in a thread, and ``MiddlewareMixin`` runs each
``process_request``/``process_response`` hook through ``sync_to_async``: a
thread hop each, per request, on the hot path of every AI call.

The classes here are subclasses of the middleware they stand for (so
Django's own checks, such as the admin's, still recognise them) using
Django's documented async middleware interface (``sync_capable``,
``async_capable``, ``markcoroutinefunction``). Under WSGI they are the
originals, unchanged. Under ASGI their hooks run on the event loop, as they
do no I/O; when a hook will touch the database this time (a session to
save, messages stored in the session), that one hook runs in a thread, as
Django would have run it. ``project.checks`` refuses a middleware list that
would hop threads on every request.

The session, CSRF, authentication and messages middleware also step aside
for a bearer-token API call (:class:`SkippedOnBearerCalls`): such a call is
authenticated by its token alone, so they have nothing to do for it.
"""

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import get_messages
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware import clickjacking, common, csrf, security
from django.utils.functional import SimpleLazyObject

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from csp import middleware as csp_middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from whitenoise import middleware as whitenoise_middleware

from project.exceptions import is_api_request


def is_bearer_api_call(request: HttpRequest) -> bool:
    """Return whether the request is an API call that carries a bearer token.

    The API's only authentication is the bearer token (DRF's
    ``DEFAULT_AUTHENTICATION_CLASSES``; the AI views authenticate the same
    way): a session cookie sent along is never read, ``request.user`` comes
    from the token, CSRF guards only cookie-authenticated requests (the API
    views are ``csrf_exempt``), and the API sends no messages. Everything
    outside ``/api/`` (admin, sign-in) keeps the full stack, token or not.
    """
    if not is_api_request(request):
        return False
    scheme, _, _ = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer"


class SkippedOnBearerCalls:
    """Pass a bearer-token API call straight to the rest of the chain.

    Put first in the bases. The middleware's ``process_request`` and
    ``process_response`` do not run for such a call (under WSGI and ASGI
    alike); for any other request it is the middleware as before.
    ``process_view`` is left to run: CSRF's returns at once for the API's
    ``csrf_exempt`` views and fails closed for any other.
    """

    get_response: Callable[[HttpRequest], Any]

    def __call__(self, request: HttpRequest) -> Any:
        """Skip this middleware for a bearer-token API call."""
        if is_bearer_api_call(request):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class AsyncNativeHooks:
    """Run a ``MiddlewareMixin`` middleware's hooks on the event loop under ASGI.

    Put first in the bases, before the Django class. The order of the hooks
    is ``MiddlewareMixin``'s: ``process_request``, the rest of the chain
    unless it answered, ``process_response``. ``process_view`` becomes a
    coroutine function so that Django's handler does not wrap it in
    ``sync_to_async`` either. ``process_exception`` is left alone: Django
    runs the exception middleware synchronously in both modes.
    """

    sync_capable = True
    async_capable = True
    get_response: Callable[[HttpRequest], Any]

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:  # noqa: D107
        super().__init__(get_response)  # type: ignore[call-arg]
        self.on_event_loop = iscoroutinefunction(get_response)
        if not self.on_event_loop:
            return
        markcoroutinefunction(self)
        view_hook = getattr(self, "process_view", None)
        if view_hook is not None:
            self.process_view = self._async_view_hook(view_hook)

    def _async_view_hook(self, hook: Callable[..., Any]) -> Callable[..., Any]:
        async def process_view(
            request: HttpRequest, view: Any, args: Any, kwargs: Any
        ) -> HttpResponseBase | None:
            if self.view_hook_blocks(request):
                return await sync_to_async(hook)(request, view, args, kwargs)
            return hook(request, view, args, kwargs)

        return process_view

    def __call__(self, request: HttpRequest) -> Any:
        """Answer as the original under WSGI; return a coroutine under ASGI."""
        if not self.on_event_loop:
            return super().__call__(request)  # type: ignore[misc]
        return self.respond_async(request)

    async def respond_async(self, request: HttpRequest) -> HttpResponseBase:
        """Run the hooks around the rest of the (async) chain."""
        response = None
        process_request = getattr(self, "process_request", None)
        if process_request is not None:
            if self.request_hook_blocks(request):
                response = await sync_to_async(process_request)(request)
            else:
                response = process_request(request)
        response = response or await self.get_response(request)
        process_response = getattr(self, "process_response", None)
        if process_response is not None:
            if self.response_hook_blocks(request):
                response = await sync_to_async(process_response)(request, response)
            else:
                response = process_response(request, response)
        return response

    def request_hook_blocks(self, request: HttpRequest) -> bool:
        """Return whether ``process_request`` may do I/O for this request."""
        return False

    def view_hook_blocks(self, request: HttpRequest) -> bool:
        """Return whether ``process_view`` may do I/O for this request."""
        return False

    def response_hook_blocks(self, request: HttpRequest) -> bool:
        """Return whether ``process_response`` may do I/O for this request."""
        return False


class SecurityMiddleware(AsyncNativeHooks, security.SecurityMiddleware):
    """Django's ``SecurityMiddleware`` (HTTPS redirect, security headers)."""


class CommonMiddleware(AsyncNativeHooks, common.CommonMiddleware):
    """Django's ``CommonMiddleware`` (slash redirects, ``Content-Length``)."""


class XFrameOptionsMiddleware(AsyncNativeHooks, clickjacking.XFrameOptionsMiddleware):
    """Django's ``XFrameOptionsMiddleware``."""


_POLICY_HEADERS = (
    (False, HEADER, "CONTENT_SECURITY_POLICY"),
    (True, HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
)


@functools.cache
def configured_policies() -> tuple[tuple[str, str], ...] | None:
    """Return ``(header, policy)`` as django-csp builds them from settings alone.

    None when a policy excludes URL prefixes: then every response goes
    through django-csp, which knows which paths they cover.
    """
    policies = []
    for report_only, header, setting in _POLICY_HEADERS:
        if (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES"):
            return None
        policy = build_policy(report_only=report_only)
        if policy:
            policies.append((header, policy))
    return tuple(policies)


@receiver(setting_changed)
def _forget_configured_policy(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        configured_policies.cache_clear()


class CSPMiddleware(AsyncNativeHooks, csp_middleware.CSPMiddleware):
    """django-csp's ``CSPMiddleware`` (the ``Content-Security-Policy`` header).

    django-csp builds the policy string anew for every response (~50 µs, the
    largest item left in the middleware stack of an API call). A bearer-token
    API call answers JSON or an event stream: no template, so no nonce, and
    no API view changes the policy. When :meth:`get_policy_parts` (the
    library's documented extension point) confirms both for a response, it
    gets the policy built once from settings; anything else (a nonce, a
    view's ``@csp_update``, a page, ``DEBUG``) goes through django-csp as
    before. ``project/tests/test_csp_fast_path.py`` compares the two on real
    API responses.
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        """Set the policy built once on a bearer API call; else as django-csp."""
        policies = configured_policies()
        if policies is None or settings.DEBUG or not is_bearer_api_call(request):
            return super().process_response(request, response)
        unchanged = csp_middleware.PolicyParts()
        for report_only, _, _ in _POLICY_HEADERS:
            parts = self.get_policy_parts(request, response, report_only=report_only)
            if parts != unchanged:
                return super().process_response(request, response)
        for header, policy in policies:
            if header not in response:
                response[header] = policy
        return response


# Set on a request once its lazy session user has been looked up.
USER_RESOLVED = "quire_user_resolved"


def request_user_resolved(request: HttpRequest) -> bool:
    """Return whether the session's user of ``request`` was looked up yet."""
    return bool(getattr(request, USER_RESOLVED, False))


class AuthenticationMiddleware(
    SkippedOnBearerCalls, AsyncNativeHooks, auth_middleware.AuthenticationMiddleware
):
    """Django's ``AuthenticationMiddleware``: ``request.user`` stays lazy.

    The lazy user is Django's (``auth.get_user(request)`` on first use) and
    also notes on the request when it was looked up, so the request log can
    name the user without loading one that nothing else needed.
    """

    def process_request(self, request: HttpRequest) -> None:
        """Give the request its lazy user (and ``auser``), as Django does."""
        super().process_request(request)

        def resolve() -> Any:
            user = auth.get_user(request)
            setattr(request, USER_RESOLVED, True)
            return user

        request.user = SimpleLazyObject(resolve)


class SessionMiddleware(
    SkippedOnBearerCalls, AsyncNativeHooks, sessions_middleware.SessionMiddleware
):
    """Django's ``SessionMiddleware``; saving a used session is done in a thread."""

    def response_hook_blocks(self, request: HttpRequest) -> bool:
        """Return whether the session will be saved (as Django decides it)."""
        session = getattr(request, "session", None)
        if session is None or not getattr(session, "accessed", False):
            return False
        return session.modified or settings.SESSION_SAVE_EVERY_REQUEST


class MessageMiddleware(
    SkippedOnBearerCalls, AsyncNativeHooks, messages_middleware.MessageMiddleware
):
    """Django's ``MessageMiddleware``; storing used messages is done in a thread."""

    def response_hook_blocks(self, request: HttpRequest) -> bool:
        """Return whether messages were read or added (they may go to the session)."""
        storage = get_messages(request)
        return bool(
            getattr(storage, "used", True) or getattr(storage, "added_new", True)
        )


class CsrfViewMiddleware(
    SkippedOnBearerCalls, AsyncNativeHooks, csrf.CsrfViewMiddleware
):
    """Django's ``CsrfViewMiddleware``; with ``CSRF_USE_SESSIONS`` in a thread."""

    def request_hook_blocks(self, request: HttpRequest) -> bool:
        """Return whether the token lives in the session (a database read)."""
        return settings.CSRF_USE_SESSIONS

    def view_hook_blocks(self, request: HttpRequest) -> bool:
        """Return whether the token lives in the session (a database read)."""
        return settings.CSRF_USE_SESSIONS

    def response_hook_blocks(self, request: HttpRequest) -> bool:
        """Return whether the token lives in the session (a database read)."""
        return settings.CSRF_USE_SESSIONS


_NOT_STATIC = HttpResponseBase(status=404)


def _not_static(request: HttpRequest) -> HttpResponseBase:
    return _NOT_STATIC


class WhiteNoiseMiddleware(whitenoise_middleware.WhiteNoiseMiddleware):
    """whitenoise's middleware (static files), also async-capable.

    whitenoise declares no async support, so Django would run it, and the
    rest of the chain, through a thread. Under ASGI it is given a
    ``get_response`` that returns a marker: when whitenoise passes the
    request on (not a static file), the real async chain is awaited.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:  # noqa: D107
        self.on_event_loop = iscoroutinefunction(get_response)
        if not self.on_event_loop:
            super().__init__(get_response)
            return
        super().__init__(_not_static)
        self.async_get_response = get_response
        markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        """Serve a static file, or pass the request on (awaited under ASGI)."""
        if not self.on_event_loop:
            return super().__call__(request)
        return self.respond_async(request)

    async def respond_async(self, request: HttpRequest) -> HttpResponseBase:
        """Serve a static file, else await the rest of the chain."""
        response = super().__call__(request)
        if response is _NOT_STATIC:
            response = await self.async_get_response(request)
        return response

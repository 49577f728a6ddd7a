"""System checks of the serving stack.

``MIDDLEWARE`` is shared by the WSGI and the ASGI entry points. Under ASGI a
middleware that is not async-capable runs (with the rest of the chain) in a
thread, and a ``MiddlewareMixin`` one hops to a thread for each of its
``process_request``/``process_response`` hooks: per request, on the AI
routes' hot path. ``project.asgi`` runs these checks at start-up and refuses
to serve when one fails; ``manage.py check`` runs them too.
"""

from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from project.asyncmiddleware import (
    AsyncNativeHooks,
    SkippedOnBearerCalls,
    WhiteNoiseMiddleware,
)

TAG = "quire_async"


def _thread_hops(middleware: Any) -> bool:
    """Return whether ``middleware`` would hop to a thread for its hooks."""
    if not isinstance(middleware, type) or not issubclass(middleware, MiddlewareMixin):
        return False
    if issubclass(middleware, AsyncNativeHooks):
        return False
    return hasattr(middleware, "process_request") or hasattr(
        middleware, "process_response"
    )


@checks.register(TAG)
def check_async_native_middleware(**kwargs: Any) -> list[checks.CheckMessage]:
    """Refuse a middleware that is not both sync- and async-native."""
    errors: list[checks.CheckMessage] = []
    for path in settings.MIDDLEWARE:
        middleware = import_string(path)
        if not getattr(middleware, "async_capable", False):
            errors.append(
                checks.Error(
                    f"Middleware {path} is not async-capable: under ASGI Django "
                    "runs it, and the rest of the chain, in a thread.",
                    hint="Use an async-capable version (see project.asyncmiddleware).",
                    id="quire.E001",
                )
            )
        elif _thread_hops(middleware):
            errors.append(
                checks.Error(
                    f"Middleware {path} runs its hooks through sync_to_async "
                    "under ASGI (MiddlewareMixin).",
                    hint="Subclass it with project.asyncmiddleware.AsyncNativeHooks.",
                    id="quire.E002",
                )
            )
        elif not getattr(middleware, "sync_capable", True):
            errors.append(
                checks.Error(
                    f"Middleware {path} is not sync-capable: the WSGI workers "
                    "share this list.",
                    id="quire.E003",
                )
            )
    return errors


def refuse_unless_async_native() -> None:
    """Raise ``ImproperlyConfigured`` at start-up when a check above fails."""
    from django.core.exceptions import ImproperlyConfigured

    failed = [
        message for message in checks.run_checks(tags=[TAG]) if message.is_serious()
    ]
    if failed:
        raise ImproperlyConfigured("; ".join(str(message) for message in failed))


# Django's deploy checks look for its own middleware by dotted path in
# MIDDLEWARE (``"django.middleware.security.SecurityMiddleware" in ...``):
# with the async-native subclasses listed instead they would report the
# middleware missing (silenced in settings: security.W001, W002, W003) and
# pass every check gated on it (HSTS, SSL redirect, secure cookies, ...)
# without looking. They are run here again on the list as Django sees it,
# each subclass replaced by the class it stands for.
MISSING_MIDDLEWARE = {"security.W001", "security.W002", "security.W003"}


def _as_django_sees_it(paths: list[str]) -> list[str]:
    """Return ``paths`` with each async-native subclass as its original's path."""
    originals = []
    for path in paths:
        middleware = import_string(path)
        if isinstance(middleware, type) and issubclass(
            middleware, (AsyncNativeHooks, WhiteNoiseMiddleware)
        ):
            base = next(
                b
                for b in middleware.__bases__
                if b not in (AsyncNativeHooks, SkippedOnBearerCalls)
            )
            path = f"{base.__module__}.{base.__qualname__}"
        originals.append(path)
    return originals


@checks.register(checks.Tags.security, deploy=True)
def check_deploy_with_original_middleware(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Run Django's middleware-gated deploy checks on the originals' paths."""
    from django.core.checks.security import base, csrf, sessions
    from django.test.utils import override_settings

    gated = [
        base.check_security_middleware,
        base.check_xframe_options_middleware,
        csrf.check_csrf_middleware,
        base.check_sts,
        base.check_sts_include_subdomains,
        base.check_sts_preload,
        base.check_content_type_nosniff,
        base.check_ssl_redirect,
        base.check_xframe_deny,
        base.check_referrer_policy,
        base.check_cross_origin_opener_policy,
        csrf.check_csrf_cookie_secure,
        sessions.check_session_cookie_secure,
        sessions.check_session_cookie_httponly,
    ]
    with override_settings(MIDDLEWARE=_as_django_sees_it(list(settings.MIDDLEWARE))):
        messages = [message for check in gated for message in check(app_configs)]
    for message in messages:
        if message.id in MISSING_MIDDLEWARE:
            message.id = f"quire.{message.id}"  # not silenced like Django's own
    return messages

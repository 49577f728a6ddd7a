"""Bearer-token API calls skip the session, CSRF, auth and messages middleware."""

from django.http import HttpResponse
from django.test import RequestFactory

import pytest
from asgiref.sync import async_to_sync

from project import asyncmiddleware
from project.asyncmiddleware import is_bearer_api_call

SKIPPED = [
    asyncmiddleware.SessionMiddleware,
    asyncmiddleware.CsrfViewMiddleware,
    asyncmiddleware.AuthenticationMiddleware,
    asyncmiddleware.MessageMiddleware,
]
BEARER = {"HTTP_AUTHORIZATION": "Bearer some.jwt.value"}


def _hooks_run(middleware_class, request, *, on_event_loop: bool) -> list[str]:
    """Call one middleware with ``request``; return the hooks that ran."""
    ran: list[str] = []
    if on_event_loop:

        async def get_response(request):
            return HttpResponse("ok")

    else:

        def get_response(request):
            return HttpResponse("ok")

    middleware = middleware_class(get_response)
    for name in ("process_request", "process_response"):
        hook = getattr(middleware, name, None)
        if hook is None:
            continue

        def recording(*args, _hook=hook, _name=name):
            ran.append(_name)
            return _hook(*args)

        setattr(middleware, name, recording)
    if on_event_loop:
        response = async_to_sync(middleware)(request)
    else:
        response = middleware(request)
    assert response.status_code == 200
    return ran


@pytest.mark.parametrize("on_event_loop", [False, True], ids=["wsgi", "asgi"])
@pytest.mark.parametrize("middleware_class", SKIPPED, ids=lambda c: c.__name__)
def test_bearer_api_call_skips_cookie_middleware(middleware_class, on_event_loop):
    """An /api/ request with a bearer token runs none of the middleware's hooks."""
    request = RequestFactory().get("/api/v1/documents/", **BEARER)
    assert _hooks_run(middleware_class, request, on_event_loop=on_event_loop) == []
    assert not hasattr(request, "session")


@pytest.mark.parametrize("on_event_loop", [False, True], ids=["wsgi", "asgi"])
@pytest.mark.parametrize("middleware_class", SKIPPED, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/documents/", {}),  # no token: cookies may matter
        ("/api/v1/documents/", {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"}),
        ("/admin/", BEARER),  # outside the API the full stack runs
    ],
    ids=["api-no-token", "api-basic", "admin-bearer"],
)
def test_other_requests_run_cookie_middleware(
    middleware_class, on_event_loop, path, headers, db
):
    """Without a bearer token, or outside /api/, the middleware runs as Django's."""
    request = RequestFactory().get(path, **headers)
    if middleware_class is not asyncmiddleware.SessionMiddleware:
        request.session = {}  # what SessionMiddleware, before it, provides
    ran = _hooks_run(middleware_class, request, on_event_loop=on_event_loop)
    assert "process_request" in ran or "process_response" in ran


@pytest.mark.parametrize(
    ("path", "authorization", "expected"),
    [
        ("/api/v1/documents/", "Bearer abc", True),
        ("/api/v1/documents/", "bearer abc", True),
        ("/api/v1/ai/chat/completions", "Bearer abc", True),
        ("/api/v1/documents/", "", False),
        ("/api/v1/documents/", "Token abc", False),
        ("/admin/", "Bearer abc", False),
        ("/apix/", "Bearer abc", False),
    ],
)
def test_is_bearer_api_call(path, authorization, expected):
    """Only /api/ requests whose Authorization scheme is Bearer count."""
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    assert is_bearer_api_call(RequestFactory().get(path, **headers)) is expected

"""The shared middleware list is async-native under ASGI (``project.asyncmiddleware``)."""

from django.core.asgi import get_asgi_application
from django.core.exceptions import ImproperlyConfigured

import httpx
import pytest
from asgiref import sync
from asgiref.sync import async_to_sync

from project.checks import check_async_native_middleware, refuse_unless_async_native

DJANGO_ORIGINALS = [
    "project.middleware.request_log_middleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "project.exceptions.ApiErrorMiddleware",
]


def _get(app, path: str, **kwargs) -> httpx.Response:
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1"
        ) as client:
            return await client.get(path, **kwargs)

    return async_to_sync(go)()


@pytest.fixture
def thread_hops(monkeypatch) -> list[str]:
    """Record the name of every function sent to a thread by ``sync_to_async``."""
    hops: list[str] = []
    real = sync.SyncToAsync.__call__

    async def recording(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", recording)
    return hops


def _middleware_hops(hops: list[str]) -> list[str]:
    return [
        name
        for name in hops
        if "Middleware" in name or "convert_exception_to_response" in name
    ]


# Django's handler closes stale connections on request_started, in a thread.
@pytest.mark.django_db(transaction=True)
def test_asgi_request_through_the_list_hops_no_thread(thread_hops):
    """An async route's request runs every middleware hook on the event loop."""
    response = _get(get_asgi_application(), "/api/v1/ai/chat/completions")
    assert response.status_code == 405
    assert thread_hops  # Django's own signals still go to a thread
    assert _middleware_hops(thread_hops) == []


# Django's handler closes stale connections on request_started, in a thread.
@pytest.mark.django_db(transaction=True)
def test_asgi_request_through_django_originals_hops_per_hook(thread_hops, settings):
    """The same request with Django's own classes hops for each of their hooks."""
    settings.MIDDLEWARE = DJANGO_ORIGINALS
    response = _get(get_asgi_application(), "/api/v1/ai/chat/completions")
    assert response.status_code == 405
    assert "SessionMiddleware.process_request" in _middleware_hops(thread_hops)


def test_check_passes_on_the_shared_list():
    """The project's own ``MIDDLEWARE`` passes the check."""
    assert check_async_native_middleware() == []


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("django.middleware.security.SecurityMiddleware", "quire.E002"),
        ("django.middleware.gzip.GZipMiddleware", "quire.E002"),
        ("whitenoise.middleware.WhiteNoiseMiddleware", "quire.E001"),
    ],
)
def test_check_refuses_a_middleware_that_hops(settings, path, error):
    """A sync-only or hook-hopping middleware in the list is an error."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, path]
    assert [message.id for message in check_async_native_middleware()] == [error]


def test_asgi_start_up_refused_with_a_sync_only_middleware(settings):
    """The ASGI entry's start-up check raises, naming the middleware."""
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    ]
    with pytest.raises(ImproperlyConfigured, match="WhiteNoiseMiddleware"):
        refuse_unless_async_native()


@pytest.mark.django_db(transaction=True)
def test_asgi_admin_login_page_with_session_and_csrf(thread_hops):
    """The admin's login page works under ASGI: CSRF cookie, no middleware hop."""
    response = _get(get_asgi_application(), "/admin/login/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies
    assert _middleware_hops(thread_hops) == []


@pytest.mark.django_db(transaction=True)
def test_asgi_admin_sign_in_saves_the_session(admin_user):
    """Signing in to the admin under ASGI saves the session (the hook in a thread)."""
    app = get_asgi_application()

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1"
        ) as client:
            page = await client.get("/admin/login/")
            token = page.cookies["csrftoken"]
            answer = await client.post(
                "/admin/login/?next=/admin/",
                data={
                    "username": admin_user.get_username(),
                    "password": "password",
                    "csrfmiddlewaretoken": token,
                    "next": "/admin/",
                },
            )
            home = await client.get("/admin/")
            return answer, home

    answer, home = async_to_sync(go)()
    assert answer.status_code == 302, answer.text[:300]
    assert "sessionid" in answer.cookies
    assert home.status_code == 200


def test_deploy_checks_see_the_originals(settings):
    """Django's HSTS deploy check still runs with the subclasses listed."""
    from project.checks import check_deploy_with_original_middleware

    settings.SECURE_HSTS_SECONDS = 0
    ids = [message.id for message in check_deploy_with_original_middleware()]
    assert "security.W004" in ids


def test_deploy_checks_report_a_missing_security_middleware(settings):
    """Without the security middleware the (unsilenced) warning is raised."""
    from project.checks import check_deploy_with_original_middleware

    settings.MIDDLEWARE = [
        path for path in settings.MIDDLEWARE if not path.endswith(".SecurityMiddleware")
    ]
    ids = [message.id for message in check_deploy_with_original_middleware()]
    assert "quire.security.W001" in ids

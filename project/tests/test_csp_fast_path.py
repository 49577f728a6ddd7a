"""The policy built once for bearer API calls equals what django-csp builds.

``project.asyncmiddleware.CSPMiddleware`` skips django-csp's per-response
build on bearer-token API calls. Each test answers the same request through
the project's middleware list and through the same list with django-csp's
own ``CSPMiddleware`` in its place, and compares the headers.
"""

from django.conf import settings
from django.test import Client

import pytest
from csp.constants import NONCE

from documents.tests.factories import DocumentFactory

HEADERS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")
LIBRARY = "csp.middleware.CSPMiddleware"
OURS = "project.asyncmiddleware.CSPMiddleware"


def _policies(path: str, token: str, django_settings) -> dict[str, list]:
    """Return each header as our middleware and as django-csp's answer it."""
    answered = {}
    for name, middleware in (("ours", OURS), ("library", LIBRARY)):
        django_settings.MIDDLEWARE = [
            middleware if entry == OURS else entry for entry in settings.MIDDLEWARE
        ]
        response = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        answered[name] = [response.headers.get(header) for header in HEADERS]
        answered[f"{name}_status"] = response.status_code
    return answered


@pytest.fixture
def token(user, bearer_for) -> str:
    return bearer_for(user)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/documents/", 200),
        ("/api/v1/me", 200),
        ("/api/v1/documents/00000000-0000-0000-0000-000000000000/", 404),
        ("/api/v1/no-such-route", 404),
    ],
)
def test_bearer_api_call_gets_the_library_policy(path, status, token, settings):
    answered = _policies(path, token, settings)
    assert answered["ours_status"] == answered["library_status"] == status
    assert answered["ours"][0]
    assert answered["ours"] == answered["library"]


def test_own_document_read_gets_the_library_policy(user, token, settings):
    document = DocumentFactory(owner=user)
    answered = _policies(f"/api/v1/documents/{document.pk}/", token, settings)
    assert answered["ours_status"] == 200
    assert answered["ours"] == answered["library"]


def test_forged_token_gets_the_library_policy(settings, db):
    answered = _policies("/api/v1/documents/", "not.a.token", settings)
    assert answered["ours_status"] == 401
    assert answered["ours"] == answered["library"]


@pytest.mark.urls("project.tests.urls")
def test_view_that_changes_the_policy_goes_through_django_csp(token, settings):
    answered = _policies("/api/test/csp-updated", token, settings)
    assert "https://images.example" in answered["ours"][0]
    assert answered["ours"] == answered["library"]


@pytest.mark.urls("project.tests.urls")
def test_view_that_uses_the_nonce_goes_through_django_csp(token, settings):
    policy = dict(settings.CONTENT_SECURITY_POLICY)
    policy["DIRECTIVES"] = {**policy["DIRECTIVES"], "script-src": ["'self'", NONCE]}
    settings.CONTENT_SECURITY_POLICY = policy
    response = Client().get("/api/test/csp-nonce", HTTP_AUTHORIZATION=f"Bearer {token}")
    nonce = response.json()["nonce"]
    assert f"'nonce-{nonce}'" in response.headers["Content-Security-Policy"]


def test_changed_settings_change_the_built_policy(token, settings):
    policy = dict(settings.CONTENT_SECURITY_POLICY)
    policy["DIRECTIVES"] = {**policy["DIRECTIVES"], "img-src": ["'none'"]}
    settings.CONTENT_SECURITY_POLICY = policy
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {
        "DIRECTIVES": {"default-src": ["'self'"]}
    }
    answered = _policies("/api/v1/documents/", token, settings)
    assert "img-src 'none'" in answered["ours"][0]
    assert answered["ours"][1] == "default-src 'self'"
    assert answered["ours"] == answered["library"]

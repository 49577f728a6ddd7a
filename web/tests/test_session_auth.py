"""The web app's session: sign-in, CSRF, and the same account rules as tokens."""

from django.test import Client

import pytest

from accounts.models import User
from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db


def csrf(web_client: Client) -> str:
    return web_client.cookies["csrftoken"].value


def directives(policy: str) -> dict[str, list[str]]:
    """Return a CSP header's directives by name (django-csp orders them by hash)."""
    parts = (d.split() for d in policy.split(";") if d.strip())
    return {name: sources for name, *sources in parts}


def test_app_signed_out_redirects_to_local_sign_in(web_client):
    """A visitor without a session is sent to the sign-in page."""
    response = web_client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/signin"


def test_app_page_has_strict_csp_without_inline_script(web_client, signed_in):
    """The app's pages allow scripts and styles from this origin only."""
    signed_in()
    response = web_client.get("/")

    policy = response["Content-Security-Policy"]
    assert directives(policy)["script-src"] == ["'self'"]
    assert directives(policy)["style-src"] == ["'self'"]
    assert "unsafe-inline" not in policy
    assert b"<script>" not in response.content


def test_session_reads_api_without_csrf_token(web_client, signed_in):
    """A GET with the session cookie alone is the signed-in user's."""
    user = signed_in()
    DocumentFactory(owner=user, title="Mine")

    response = web_client.get("/api/v1/documents/")

    assert response.status_code == 200
    assert [d["title"] for d in response.json()["results"]] == ["Mine"]


def test_session_write_without_csrf_token_refused(web_client, signed_in):
    """An unsafe request on the session without the CSRF header is 403."""
    signed_in()

    response = web_client.post(
        "/api/v1/documents/", {"title": "x"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "CSRF" in response.json()["detail"]


def test_session_write_with_csrf_token_accepted(web_client, signed_in):
    """The same request with the page's CSRF token creates the document."""
    signed_in()

    response = web_client.post(
        "/api/v1/documents/",
        {"title": "x"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf(web_client),
    )

    assert response.status_code == 201


def test_session_sign_out_everywhere_ends_the_session(web_client, signed_in):
    """After sign-out everywhere, the session's next API call is 401."""
    signed_in()
    done = web_client.post(
        "/api/v1/me/sign-out",
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf(web_client),
    )
    assert done.status_code in (200, 204)

    response = web_client.get("/api/v1/documents/")

    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert web_client.get("/").status_code == 302


def test_session_disabled_account_refused(web_client, signed_in):
    """A deactivated account's session is refused on the next request."""
    user = signed_in()
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = web_client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"


def test_session_deleted_account_refused_and_not_recreated(web_client, signed_in):
    """After the account is deleted, its session is refused; no user reappears."""
    signed_in()
    deleted = web_client.delete("/api/v1/me", HTTP_X_CSRFTOKEN=csrf(web_client))
    assert deleted.status_code == 204

    response = web_client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["code"] == "session_ended"
    assert not User.objects.filter(email="web@example.com").exists()


def test_sign_out_ends_session(web_client, signed_in):
    """The sign-out form ends this web_client's session."""
    signed_in()

    response = web_client.post("/signout", {"csrfmiddlewaretoken": csrf(web_client)})

    assert response.status_code == 302
    assert web_client.get("/api/v1/me").status_code == 401


def test_sign_in_bad_email_answers_400_and_signs_nobody_in(web_client):
    """A malformed address re-shows the form with an error."""
    token = web_client.get("/signin").cookies["csrftoken"].value

    response = web_client.post(
        "/signin", {"email": "nope", "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 400
    assert b"Enter a valid email address." in response.content
    assert not User.objects.exists()


def test_local_sign_in_not_served_without_local_issuer(web_client, settings):
    """With the local issuer off (production), the sign-in page does not exist."""
    settings.LOCAL_ISSUER_ENABLED = False

    assert web_client.get("/signin").status_code == 404


def test_local_sign_in_not_served_with_cognito_web_sign_in(web_client, settings):
    """With the hosted UI configured, visitors are sent there instead."""
    settings.COGNITO_DOMAIN = "https://auth.example.test"
    settings.COGNITO_WEB_CLIENT_ID = "web-client"

    assert web_client.get("/signin").status_code == 404
    assert web_client.get("/")["Location"] == "/auth/login"


def test_session_multipart_upload_checks_csrf_header_without_reading_body(
    web_client, signed_in
):
    """A multipart upload on the session is CSRF-checked and still streamed."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    user = signed_in()
    document = DocumentFactory(owner=user)
    url = f"/api/v1/documents/{document.pk}/attachments/"
    upload = {"file": SimpleUploadedFile("a.txt", b"hello", content_type="text/plain")}

    refused = web_client.post(url, upload)
    upload["file"].seek(0)
    accepted = web_client.post(url, upload, HTTP_X_CSRFTOKEN=csrf(web_client))

    assert refused.status_code == 403
    assert accepted.status_code == 201, accepted.json()


def test_session_ai_action_post_checks_csrf_header(web_client, signed_in, settings):
    """The async AI views accept the session with the CSRF header, refuse it without."""
    from aiproxy import providers
    from aiproxy.models import AIModel

    settings.AI_PROVIDERS = {"mock": {"kind": "mock", "options": {"chunk_delay": 0}}}
    settings.AI_DB_THREAD_SENSITIVE = True
    providers.cache_clear()
    AIModel.objects.update_or_create(
        name=settings.AI_DEFAULT_MODEL,
        defaults={"provider": "mock", "upstream_model": "mock-1", "is_enabled": True},
    )
    user = signed_in()
    document = DocumentFactory(owner=user, body="Some text.")
    url = f"/api/v1/documents/{document.pk}/ai/summarize/"

    refused = web_client.post(url, {}, content_type="application/json")
    accepted = web_client.post(
        url, {}, content_type="application/json", HTTP_X_CSRFTOKEN=csrf(web_client)
    )

    assert refused.status_code == 403
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["action"] == "summarize"

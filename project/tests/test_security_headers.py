"""Security headers and a Content-Security-Policy the admin and docs live with."""

import re

import pytest

pytestmark = pytest.mark.django_db


def _csp(response) -> dict[str, list[str]]:
    policy = {}
    for directive in response["Content-Security-Policy"].split(";"):
        name, *values = directive.strip().split()
        policy[name] = values
    return policy


def _assets(html: str) -> tuple[list[str], list[str], list[str]]:
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.DOTALL)
    inline = [body for attrs, body in scripts if "src=" not in attrs and body.strip()]
    sources = re.findall(r"<script\b[^>]*\bsrc=\"([^\"]+)\"", html)
    styles = re.findall(r"<link\b[^>]*rel=\"stylesheet\"[^>]*href=\"([^\"]+)\"", html)
    return inline, sources, styles


def test_csp_api_response_carries_strict_policy(api_client):
    """Every response carries the policy: scripts from this origin only, no framing."""
    response = api_client.get("/healthz")
    policy = _csp(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_csp_admin_login_page_loads_only_same_origin_scripts(client):
    """The admin sign-in page has no inline script; its assets are same-origin."""
    response = client.get("/admin/login/")
    assert response.status_code == 200
    inline, sources, styles = _assets(response.content.decode())
    assert inline == []
    assert styles
    for url in sources + styles:
        assert url.startswith("/static/"), url


def test_csp_docs_page_script_served_separately(client):
    """Swagger UI's start-up script is a same-origin file, so script-src 'self' works."""
    response = client.get("/api/docs/")
    assert response.status_code == 200
    inline, sources, _styles = _assets(response.content.decode())
    assert inline == []
    assert sources
    for url in sources:
        assert url.startswith("/"), url
    script_url = next(url for url in sources if "script" in url)
    script = client.get(script_url.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content

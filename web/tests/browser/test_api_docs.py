"""The API docs page (Redoc) in Chromium, under the site's CSP."""

import pytest

pytestmark = pytest.mark.browser

# Registered before any page script (through the DevTools protocol, so the
# page's CSP does not apply to it): every CSP violation the page reports.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def test_redoc_renders_and_searches_with_no_csp_violation(app_url, page, shot):
    """Redoc draws the schema, its search finds an operation, nothing is refused.

    Its assets are ours (no CDN, no web fonts, no remote logo), and its search
    worker runs from a ``blob:`` URL that ``worker-src`` allows on this page.
    """
    console_errors: list[str] = []
    outside: list[str] = []
    failed: list[str] = []
    page.on(
        "response",
        lambda response: (
            response.status >= 400
            and failed.append(f"{response.status} {response.url}")
        ),
    )
    page.on(
        "console",
        lambda message: message.type == "error" and console_errors.append(message.text),
    )
    page.on(
        "request",
        lambda request: (
            request.url.startswith(("http:", "https:"))
            and not request.url.startswith(app_url)
            and outside.append(request.url)
        ),
    )
    page.add_init_script(RECORD_VIOLATIONS)

    page.goto(f"{app_url}/api/redoc/")
    page.get_by_role("heading", name="Quire API").first.wait_for()
    page.get_by_role("heading", name="Share a document by email").first.wait_for()
    search = page.get_by_placeholder("Search...")
    search.fill("display name")
    result = page.locator('[data-role="search:results"]').get_by_text(
        "Change the caller's display name"
    )
    result.first.wait_for()
    shot(page, "redoc-search")

    assert page.evaluate("() => window.__cspViolations") == []
    assert failed == []
    assert console_errors == []
    assert outside == []

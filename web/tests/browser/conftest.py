"""Browser tests: Debian's Chromium driven by pytest-playwright, against a real server.

The server is uvicorn on a free loopback port running Django's own ASGI
handler (sessions, CSRF, CORS, whitenoise: the full middleware list), so AI
streams reach the browser piece by piece. Chromium is ``/usr/bin/chromium``
(``apt-get install chromium``; Playwright never downloads a browser here).
Screenshots go to ``var/screenshots`` (a CI artefact).
"""

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings as django_settings

import pytest

CHROMIUM = os.environ.get("QUIRE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
AXE = Path(__file__).parents[1] / "vendor" / "axe-core" / "axe.min.js"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThreadedUvicorn:
    """Run an ASGI app with uvicorn in a thread on 127.0.0.1; stop it at the end."""

    def __init__(self, app) -> None:  # noqa: ANN001
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ThreadedUvicorn":
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the browser tests with a clear reason when Chromium is missing."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("QUIRE_REQUIRE_BROWSER"):
        raise pytest.UsageError(
            f"{CHROMIUM} is missing and CI requires the browser tests"
        )
    skip = pytest.mark.skip(
        reason=f"{CHROMIUM} not found: apt-get install chromium (make test does)"
    )
    for item in items:
        if "web/tests/browser" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="package")
def playwright(_pw_api_request_contexts) -> Iterator:  # noqa: ANN001
    """Start Playwright for this package only (pytest-playwright's, narrowed).

    Its sync API keeps an asyncio loop in the main thread while it runs:
    Django then refuses ORM calls from the test thread unless told otherwise,
    and later tests' ``async_to_sync`` would fail. So it runs for these tests
    only and is stopped when they are done.
    """
    from playwright.sync_api import sync_playwright

    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    pw = sync_playwright().start()
    if _pw_api_request_contexts:
        _pw_api_request_contexts.instrument(pw)
    try:
        yield pw
    finally:
        pw.stop()
        if saved is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture(scope="package")
def browser_type(playwright, browser_name):  # noqa: ANN001, ANN201
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args, browser_type) -> Callable:  # noqa: ANN001
    return lambda **kwargs: browser_type.launch(
        **{**browser_type_launch_args, **kwargs}
    )


@pytest.fixture(scope="package")
def browser(launch_browser) -> Iterator:  # noqa: ANN001
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def browser_context_args() -> dict:
    """Open every page at the desktop size the screenshots are read at."""
    return {"viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """Launch Debian's Chromium, headless, with nothing reaching the network."""
    return {
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(autouse=True)
def _patient_expectations() -> None:
    """Wait up to 15 s for what a page should show (2 cores, shared with CI)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)


@pytest.fixture(scope="package")
def quire_server(django_db_setup, django_db_blocker) -> Iterator[ThreadedUvicorn]:
    """Serve the whole project (Django's ASGI handler) on a free loopback port."""
    from django.core.asgi import get_asgi_application

    server = ThreadedUvicorn(get_asgi_application()).start()
    yield server
    server.stop()


@pytest.fixture
def app_url(quire_server, transactional_db, settings, tmp_path) -> str:
    """Return the server's URL, with a fresh database, mock AI and local files."""
    from aiproxy import providers
    from aiproxy.models import AIModel

    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.AI_PROVIDERS = {"mock": {"kind": "mock", "options": {"chunk_delay": 0.03}}}
    settings.AI_DB_THREAD_SENSITIVE = False
    settings.AI_TOKENS_PER_MONTH = 1_000_000
    providers.cache_clear()
    AIModel.objects.update_or_create(
        name=settings.AI_DEFAULT_MODEL,
        defaults={"provider": "mock", "upstream_model": "mock-1", "is_enabled": True},
    )
    return quire_server.url


@pytest.fixture
def sign_in(app_url) -> Callable:
    """Return ``sign_in(page, email)``: the local sign-in page, as a person uses it."""

    def run(page, email: str):  # noqa: ANN001, ANN202
        page.goto(f"{app_url}/")
        page.get_by_label("Email address").fill(email)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{app_url}/")
        page.locator("#list-title").wait_for()
        return page

    return run


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def shot(screenshots, request) -> Callable:
    """Return ``shot(page, name)``: save a full-page screenshot under var/."""

    def take(page, name: str) -> Path:  # noqa: ANN001
        path = screenshots / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def axe() -> Callable:
    """Return ``axe(page)``: run axe-core on the page; fail on serious issues."""
    source = AXE.read_text()

    def check(page, *, context: str = "") -> list:  # noqa: ANN001
        # Through the DevTools protocol: the page's CSP forbids inline script.
        page.evaluate(f"() => {{ {source}\n}}")
        result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(n["target"][0] for n in v["nodes"][:3])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not bad, f"accessibility violations {context}: {bad}"
        return result["violations"]

    return check

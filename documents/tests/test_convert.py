"""The converters fetch nothing a document names, and the sanitiser's rules."""

import http.server
from collections.abc import Iterator

import pytest

from documents import convert
from project.tests.loopback import serving


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answer every GET with a tiny PNG, and remember that it was asked."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        Recorder.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.wfile.write(b"\x89PNG\r\n\x1a\n")

    def log_message(self, *args) -> None:
        return


@pytest.fixture
def loopback() -> Iterator[str]:
    """Serve on a free loopback port; yield its base URL."""
    Recorder.seen = []
    with serving(Recorder) as url:
        yield url


def test_pdf_worker_fetches_no_url(loopback):
    """WeasyPrint in the worker never requests an image or stylesheet URL."""
    html = (
        f'<html><head><link rel="stylesheet" href="{loopback}/style.css"></head>'
        f'<body><p>Hello</p><img src="{loopback}/pixel.png">'
        '<img src="file:///etc/hostname"></body></html>'
    )

    pdf = convert.html_to_pdf(html)

    assert pdf.startswith(b"%PDF-")
    assert Recorder.seen == []


def test_pandoc_sandbox_fetches_no_image(loopback):
    """The sandboxed pandoc does not fetch an image a document points at."""
    body = f"![pixel]({loopback}/pixel.png)\n\n![host](/etc/hostname)\n"

    docx = convert.pandoc(body.encode(), source="gfm", target="docx")

    assert docx.startswith(b"PK")
    assert b"word/media/" not in docx
    assert Recorder.seen == []


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<p>a<script>alert(1)</script>b</p>", "<p>ab</p>"),
        ("<style>p{}</style><p>x</p>", "<p>x</p>"),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<img src="x" onerror="alert(1)">', '<img src="x">'),
        ('<img src="data:image/png;base64,AAAA">', "<img>"),
        ('<iframe src="https://example.com"></iframe>', ""),
    ],
)
def test_sanitize_html_removes_active_content(dirty, clean):
    """Scripts, styles, handlers, javascript: and data: URLs, frames: gone."""
    assert convert.sanitize_html(dirty) == clean


def test_sanitize_html_rewrites_urls():
    """``rewrite_url`` sees each href and src; its answer is kept."""
    html = '<a href="/a">a</a><img src="/b">'

    clean = convert.sanitize_html(html, rewrite_url=lambda url: "https://q.test" + url)

    assert clean == (
        '<a href="https://q.test/a" rel="noopener noreferrer">a</a>'
        '<img src="https://q.test/b">'
    )


def test_converter_timeout_is_reported(settings):
    """A run past the time limit is killed and reported as timed out."""
    settings.DOCUMENTS_CONVERT_TIMEOUT_SECONDS = 0

    with pytest.raises(convert.ConversionFailed) as failure:
        convert.pandoc(b"# x", source="gfm", target="html5")

    assert failure.value.timed_out

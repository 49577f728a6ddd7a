"""Render HTML from stdin as PDF on stdout with WeasyPrint, in its own process.

Run by :func:`documents.convert.html_to_pdf` as ``python -I pdf_worker.py
<memory MB>``; it imports nothing from Django. The address space is capped
before WeasyPrint loads, and only ``data:`` URLs are fetched (images the
caller inlined), so a document can make it read no file and reach no host.
"""

import resource
import sys


def main() -> int:
    """Convert stdin to stdout; return the exit status."""
    limit = int(sys.argv[1]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html = sys.stdin.buffer.read().decode("utf-8")
    fetcher = URLFetcher(allowed_protocols={"data"})
    pdf = HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf()
    sys.stdout.buffer.write(pdf)
    return 0


if __name__ == "__main__":
    sys.exit(main())

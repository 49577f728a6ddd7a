"""The only code that runs document converters: pandoc, WeasyPrint, nh3.

Pandoc is the binary shipped by ``pypandoc-binary``; WeasyPrint renders PDF
from HTML in a child process (:mod:`documents.pdf_worker`). Every converter
runs in its own process with a wall-clock timeout
(``DOCUMENTS_CONVERT_TIMEOUT_SECONDS``) and a memory cap
(``DOCUMENTS_CONVERT_MEMORY_MB``): pandoc through its runtime's ``-M`` heap
limit, the PDF worker through ``RLIMIT_AS``. Pandoc always runs with
``--sandbox``, so a document cannot make it read a file or fetch a URL; the
PDF worker fetches nothing either. HTML is cleaned by ``nh3`` (ammonia) with
its default allow-list: no scripts, styles, event handlers or
``javascript:`` URLs survive.
"""

import functools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

import nh3
import pypandoc

PDF_WORKER = Path(__file__).with_name("pdf_worker.py")
# The Markdown dialect of document bodies: GitHub's, as the web app renders it.
MARKDOWN = "gfm"


class ConversionFailed(Exception):  # noqa: N818 - reads better at call sites
    """A converter refused the input, crashed, ran out of memory or time."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:  # noqa: D107
        super().__init__(message)
        self.timed_out = timed_out


@functools.cache
def pandoc_path() -> str:
    """Return the pandoc binary of ``pypandoc-binary`` (cached; tests may clear)."""
    return pypandoc.get_pandoc_path()


def _run(command: list[str], data: bytes) -> bytes:
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command,
            input=data,
            capture_output=True,
            timeout=settings.DOCUMENTS_CONVERT_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConversionFailed("converter timed out", timed_out=True) from None
    if done.returncode != 0:
        # stderr may quote the document: never logged above DEBUG by callers.
        raise ConversionFailed(done.stderr.decode("utf-8", "replace")[:500])
    return done.stdout


def pandoc(
    data: bytes, *, source: str, target: str, extra: tuple[str, ...] = ()
) -> bytes:
    """Convert ``data`` from pandoc format ``source`` to ``target``; return bytes."""
    memory = settings.DOCUMENTS_CONVERT_MEMORY_MB
    command = [
        pandoc_path(),
        "--sandbox",
        "--quiet",
        f"--from={source}",
        f"--to={target}",
        "--output=-",
        *extra,
        "+RTS",
        f"-M{memory}m",
        "-RTS",
    ]
    return _run(command, data)


def pandoc_json(data: bytes, *, source: str) -> dict[str, Any]:
    """Return pandoc's JSON syntax tree of ``data`` read as ``source``."""
    return json.loads(pandoc(data, source=source, target="json"))


def json_to(tree: dict[str, Any], *, target: str) -> bytes:
    """Return a pandoc JSON tree written in pandoc format ``target``."""
    return pandoc(json.dumps(tree).encode(), source="json", target=target)


def json_to_markdown(tree: dict[str, Any]) -> str:
    """Return a pandoc JSON tree written as GitHub Markdown without raw HTML."""
    raw = pandoc(
        json.dumps(tree).encode(),
        source="json",
        target=f"{MARKDOWN}-raw_html",
        extra=("--wrap=none",),
    )
    return raw.decode("utf-8")


def markdown_to_html(body: str) -> str:
    """Return the Markdown ``body`` as an HTML fragment, not yet sanitised."""
    return pandoc(body.encode("utf-8"), source=MARKDOWN, target="html5").decode()


def sanitize_html(
    html: str,
    *,
    rewrite_url: Callable[[str], str] | None = None,
    data_image: Callable[[str], str] | None = None,
    drop_content: frozenset[str] = frozenset(),
) -> str:
    """Return ``html`` cleaned by nh3's allow-list.

    ``rewrite_url`` sees every ``href`` and ``src`` (e.g. to make the API's
    root-relative attachment links absolute). ``data_image``, for the
    import, maps each ``<img src="data:...">`` to a stand-in URL; every other
    ``data:`` URL is dropped. The content of ``drop_content`` tags goes with
    them (``script`` and ``style`` always do).
    """

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if value.strip().lower().startswith("data:"):
            if data_image is not None and (tag, attribute) == ("img", "src"):
                return data_image(value.strip())
            return None
        if rewrite_url is not None and attribute in ("href", "src"):
            return rewrite_url(value)
        return value

    schemes = nh3.ALLOWED_URL_SCHEMES | ({"data"} if data_image else set())
    return nh3.clean(
        html,
        attribute_filter=attribute_filter,
        url_schemes=schemes,
        clean_content_tags=nh3.CLEAN_CONTENT_TAGS | drop_content,
    )


def html_to_pdf(html: str) -> bytes:
    """Return the (sanitised, standalone) ``html`` rendered as PDF by WeasyPrint."""
    memory = settings.DOCUMENTS_CONVERT_MEMORY_MB
    # -I: isolated mode, so nothing beside the worker shadows a module.
    command = [sys.executable, "-I", str(PDF_WORKER), str(memory)]
    out = _run(command, html.encode("utf-8"))
    if not out.startswith(b"%PDF-"):
        raise ConversionFailed("the PDF worker returned no PDF")
    return out


def walk_tree(node: Any, visit: Callable[[dict], None]) -> None:
    """Call ``visit`` on every element of a pandoc JSON tree (bounded by its size)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "t" in item:
                visit(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)

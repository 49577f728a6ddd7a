"""Export a document (or one of its revisions) as Markdown, HTML, PDF or Word.

Markdown is the body as stored. HTML is pandoc's rendering of the body,
cleaned by nh3 (the body may carry raw HTML: scripts, styles and event
handlers never survive), with root-relative links made absolute and the
document's ready attachments listed with their download URLs. PDF is that
same HTML rendered by WeasyPrint; Word comes from pandoc, with links made
absolute too. PDF and Word embed the document's own image attachments
(within ``DOCUMENTS_EXPORT_IMAGES_MAX_BYTES``) as ``data:`` URIs, since the
sandboxed converters fetch nothing; other images become links. Every
converter call goes through :mod:`documents.convert`.
"""

import base64
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from attachments.inline import attachment_images_for_export
from attachments.selectors import attachment_list_ready
from documents import convert
from project.exceptions import ApplicationError

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# format -> (Content-Type, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "md": ("text/markdown; charset=utf-8", "md"),
    "html": ("text/html; charset=utf-8", "html"),
    "pdf": ("application/pdf", "pdf"),
    "docx": (DOCX_TYPE, "docx"),
}
FILENAME_MAX = 120


@dataclass(frozen=True)
class ExportFile:
    """An exported document: its bytes, type and suggested file name."""

    content: bytes
    content_type: str
    filename: str


@dataclass(frozen=True)
class Linked:
    """An attachment as the export lists it."""

    filename: str
    url: str


def export_filename(title: str, extension: str) -> str:
    """Return a file name for ``title``: one line, no path, never empty."""
    name = unicodedata.normalize("NFC", title or "")
    name = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in name)
    name = re.sub(r'[\\/:*?"<>|]+', "-", name)
    name = re.sub(r"\s+", " ", name).strip(" .-")[:FILENAME_MAX].strip(" .-")
    return f"{name or 'document'}.{extension}"


def conversion_timeout_error(detail: str) -> ApplicationError:
    """Return the 503 of a conversion past its time limit (export or import)."""
    return ApplicationError(
        detail, code="conversion_timeout", status=503, headers={"Retry-After": "30"}
    )


def _conversion_error(error: convert.ConversionFailed) -> ApplicationError:
    if error.timed_out:
        return conversion_timeout_error(_("The document took too long to convert."))
    return ApplicationError(
        _("The document could not be converted."),
        code="conversion_failed",
        status=500,
    )


def _absolute(base_url: str) -> Callable[[str], str]:
    def rewrite(url: str) -> str:
        if url.startswith("/") and not url.startswith("//"):
            return urljoin(base_url, url)
        return url

    return rewrite


def _embedded_images(document_id: Any) -> dict[str, str]:
    """Return ``download path -> data: URI`` for the document's own images."""
    limit = settings.DOCUMENTS_EXPORT_IMAGES_MAX_BYTES
    images = attachment_images_for_export(
        document_id=document_id, max_each=limit, max_total=limit
    )
    return {
        reverse("attachments:attachment-download", args=[pk]): (
            f"data:{image.content_type};base64,"
            + base64.b64encode(image.data).decode("ascii")
        )
        for pk, image in images.items()
    }


def _docx_tree(
    body: str, rewrite: Callable[[str], str], embedded: dict[str, str]
) -> dict[str, Any]:
    """Return the body's tree with absolute links and embeddable images inlined.

    The sandboxed pandoc cannot fetch an image, so one that is not the
    document's own attachment becomes a link to it (its alt text, pointing
    at the absolute URL) instead of vanishing.
    """
    tree = convert.pandoc_json(body.encode("utf-8"), source=convert.MARKDOWN)
    by_url = {**embedded, **{rewrite(path): uri for path, uri in embedded.items()}}

    def visit(element: dict) -> None:
        if element["t"] not in ("Link", "Image"):
            return
        attr, inlines, (url, title) = element["c"]
        if element["t"] == "Image" and url in by_url:
            element["c"] = [attr, inlines, [by_url[url], title]]
            return
        element["c"] = [attr, inlines, [rewrite(url), title]]
        if element["t"] == "Image":
            element["t"] = "Link"
            if not inlines:
                element["c"][1] = [{"t": "Str", "c": url.rsplit("/", 1)[-1]}]

    convert.walk_tree(tree, visit)
    return tree


def document_export(
    *,
    document_id: Any,
    title: str,
    body: str,
    export_format: str,
    base_url: str,
    with_attachments: bool = True,
) -> ExportFile:
    """Return ``title`` and ``body`` exported as ``export_format``.

    ``base_url`` (the API's origin) makes root-relative links absolute, so
    links to attachments keep working outside the web app. Without
    ``with_attachments`` (a share link's export) the attachments are neither
    listed nor embedded: a link opens the document, not its files.
    """
    content_type, extension = FORMATS[export_format]
    filename = export_filename(title, extension)
    if export_format == "md":
        return ExportFile(body.encode("utf-8"), content_type, filename)
    rewrite = _absolute(base_url)
    try:
        if export_format == "docx":
            embedded = _embedded_images(document_id) if with_attachments else {}
            tree = _docx_tree(body, rewrite, embedded)
            content = convert.json_to(tree, target="docx")
            return ExportFile(content, content_type, filename)
        fragment = convert.sanitize_html(
            convert.markdown_to_html(body), rewrite_url=rewrite
        )
        attachments = [
            Linked(
                filename=row.filename,
                url=rewrite(reverse("attachments:attachment-download", args=[row.pk])),
            )
            for row in attachment_list_ready(document_id=document_id)
            if with_attachments
        ]
        page = render_to_string(
            "documents/export.html",
            {"title": title, "content": fragment, "attachments": attachments},
        )
        if export_format == "html":
            return ExportFile(page.encode("utf-8"), content_type, filename)
        embedded = _embedded_images(document_id) if with_attachments else {}
        for path, uri in embedded.items():
            # nh3 wrote every attribute double-quoted; the URL has no quote.
            page = page.replace(f'src="{rewrite(path)}"', f'src="{uri}"')
        return ExportFile(convert.html_to_pdf(page), content_type, filename)
    except convert.ConversionFailed as error:
        raise _conversion_error(error) from None

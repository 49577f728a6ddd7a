"""Import a Markdown, plain-text, HTML or Word file as a new document.

Everything is checked before anything is written: the size
(``DOCUMENTS_IMPORT_MAX_BYTES``), the type (from the bytes, as for
attachments: a Word file must be a ZIP with Word's parts, text must be UTF-8
without NUL), and for Word files what the ZIP unpacks to (every part is
inflated, bounded, before pandoc sees it: a zip bomb or an XML file with a
DTD is refused). HTML is sanitised by nh3 before it is converted, so its
scripts are dropped, not refused. Images the file carries (Word's media,
HTML ``data:`` URIs) become attachments through :mod:`attachments.ingest`:
their bytes are stored first, then the document and the attachment rows are
created in one transaction; if that fails the stored bytes are discarded.
Images of a type attachments do not allow are left out (their alt text
stays) and counted in ``skipped_images``.
"""

import base64
import binascii
import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

import filetype

from attachments.ingest import (
    ServerFile,
    attachment_image_type,
    server_files_attach,
    server_files_discard,
    server_files_store,
)
from attachments.services import attachment_quota_remaining_bytes, quota_exceeded_error
from attachments.sniffing import is_text
from documents import convert, services
from documents.exports import DOCX_TYPE, conversion_timeout_error
from documents.models import Document
from project.exceptions import ApplicationError

if TYPE_CHECKING:
    from accounts.models import User

# Content-Type -> pandoc reader (None: the text is the body as it is).
IMPORT_TYPES: dict[str, str | None] = {
    "text/markdown": None,
    "text/plain": None,
    "text/html": "html",
    DOCX_TYPE: "docx",
}
EXTENSIONS = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
    ".docx": DOCX_TYPE,
}
# Declared types that say nothing: the extension decides.
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
MAX_IMAGES = 100
MAX_ZIP_MEMBERS = 2000
CHUNK = 64 * 1024
_DATA_URI = re.compile(r"data:(image/[a-z0-9.+-]+);base64,(.*)", re.I | re.S)
# As documents.serializers refuses them in bodies and titles.
FORBIDDEN_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TITLE_MAX = Document._meta.get_field("title").max_length


@dataclass
class ImportResult:
    """The created document, its new attachments and the images left out."""

    document: Document
    attachments: list = field(default_factory=list)
    skipped_images: int = 0


def _unsupported(message=None) -> ApplicationError:
    return ApplicationError(
        message or _("This type of file cannot be imported."),
        code="unsupported_type",
        status=415,
        extra={"allowed_types": list(IMPORT_TYPES)},
    )


def too_large_error(limit: int) -> ApplicationError:
    return ApplicationError(
        _("The file is too large to import."),
        code="too_large",
        status=413,
        extra={"max_bytes": limit},
    )


def import_max_bytes() -> int:
    """Return the largest file the import takes."""
    return min(settings.DOCUMENTS_IMPORT_MAX_BYTES, settings.ATTACHMENT_MAX_BYTES)


def import_type(*, filename: str, declared: str) -> str:
    """Return the import type from the declared type or the extension, or raise 415."""
    declared = (declared or "").split(";")[0].strip().lower()
    if declared in IMPORT_TYPES:
        return declared
    by_extension = EXTENSIONS.get(PurePosixPath(filename or "").suffix.lower())
    if by_extension and (declared in GENERIC_TYPES or declared.startswith("text/")):
        return by_extension
    raise _unsupported()


def _check_content(kind: str, data: bytes) -> None:
    guessed = filetype.guess(data[:8192]) if data else None
    if kind == DOCX_TYPE:
        if guessed is None or guessed.mime not in ("application/zip", DOCX_TYPE):
            raise _unsupported(_("The file is not a Word document."))
        return
    if guessed is not None:
        raise _unsupported(_("The file's content does not match its declared type."))
    if not is_text(data):
        raise ApplicationError(
            _("Text files must be UTF-8 encoded."),
            code="invalid_encoding",
            status=415,
        )


def _unpack_docx(data: bytes) -> dict[str, bytes]:
    """Return the Word file's parts, inflated, or raise if it is hostile.

    Every part is really inflated (a ZIP's declared sizes can lie), counting
    bytes as they come out, and the whole stops at
    ``DOCUMENTS_IMPORT_MAX_UNPACKED_BYTES``. XML parts must carry no DTD
    (no entity expansion attacks); Word never writes one.
    """
    limit = settings.DOCUMENTS_IMPORT_MAX_UNPACKED_BYTES
    bomb = ApplicationError(
        _("The Word file unpacks to too much data."),
        code="too_large",
        status=413,
        extra={"max_unpacked_bytes": limit},
    )
    broken = _unsupported(_("The file is not a valid Word document."))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise bomb
        if sum(m.file_size for m in members) > limit:
            raise bomb
        names = {m.filename for m in members}
        if "word/document.xml" not in names or "[Content_Types].xml" not in names:
            raise broken
        parts: dict[str, bytes] = {}
        total = 0
        for member in members:
            if member.is_dir():
                continue
            chunks = []
            with archive.open(member) as handle:
                while chunk := handle.read(CHUNK):
                    total += len(chunk)
                    if total > limit:
                        raise bomb
                    chunks.append(chunk)
            part = b"".join(chunks)
            if member.filename.endswith((".xml", ".rels")) and (
                b"<!DOCTYPE" in part or b"<!ENTITY" in part
            ):
                raise broken
            parts[member.filename] = part
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError):
        raise broken from None
    except NotImplementedError:  # an unsupported compression method
        raise broken from None
    return parts


def _plain_text(inlines: Any) -> str:
    words: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("t") == "Str":
                words.append(node["c"])
            elif node.get("t") in ("Space", "SoftBreak", "LineBreak"):
                words.append(" ")
            else:
                visit(node.get("c"))
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(inlines)
    return "".join(words)


def _title(*, requested: str, tree: dict | None, filename: str) -> str:
    title = requested
    if not title and tree is not None:
        meta = tree.get("meta", {}).get("title")
        if meta:
            title = _plain_text(meta.get("c"))
    if not title:
        title = PurePosixPath(filename or "").stem
    title = FORBIDDEN_CONTROLS.sub("", " ".join(title.split()))
    return title[:TITLE_MAX]


class _Images:
    """Collect a tree's images as attachments-to-be; rewrite or drop each.

    ``resolve(url)`` answers ``None`` for a URL the file does not carry (an
    ``http(s)`` image stays as it is, anything else is dropped), else the
    image's name and bytes (``None`` bytes when it cannot be read).
    """

    def __init__(self, resolve) -> None:
        self.resolve = resolve
        self.files: list[ServerFile] = []
        self.by_source: dict[str, ServerFile] = {}
        self.skipped = 0

    def _file_for(self, found: tuple[str, bytes | None]) -> ServerFile | None:
        name, data = found
        if data is None or len(self.files) >= MAX_IMAGES:
            return None
        content_type = attachment_image_type(data)
        if content_type is None:
            return None
        item = ServerFile(filename=name, content_type=content_type, data=data)
        self.files.append(item)
        return item

    def visit(self, element: dict) -> None:
        if element.get("t") != "Image":
            return
        attr, inlines, (url, title) = element["c"]
        item = self.by_source.get(url)
        if item is None:
            found = self.resolve(url)
            if found is None and url.startswith(("http://", "https://")):
                return
            item = None if found is None else self._file_for(found)
            if item is not None:
                self.by_source[url] = item
        if item is not None:
            target = reverse("attachments:attachment-download", args=[item.id])
            element["c"] = [["", [], []], inlines, [target, title]]
            return
        self.skipped += 1
        element["t"] = "Span"
        element["c"] = [["", [], []], inlines]


def _docx_resolver(parts: dict[str, bytes]):
    def resolve(url: str):
        if url.startswith(("http://", "https://")):
            return None
        path = posixpath.normpath(posixpath.join("word", url))
        return posixpath.basename(path), parts.get(path)

    return resolve


def _data_uri(url: str) -> tuple[str, bytes | None]:
    match = _DATA_URI.fullmatch(url)
    if match is None:
        return "image", None
    try:
        data = base64.b64decode(re.sub(r"\s+", "", match.group(2)), validate=True)
    except (binascii.Error, ValueError):
        return "image", None
    extension = match.group(1).split("/")[1].split("+")[0]
    return f"image.{extension}", data


def _convert(kind: str, data: bytes) -> tuple[str, dict | None, _Images]:
    """Return the Markdown body, pandoc's tree (if converted) and its images."""
    reader = IMPORT_TYPES[kind]
    if reader is None:
        return data.decode("utf-8"), None, _Images(lambda url: None)
    if reader == "docx":
        parts = _unpack_docx(data)
        tree = convert.pandoc_json(data, source="docx")
        images = _Images(_docx_resolver(parts))
    else:
        html = data.decode("utf-8")
        # Sanitised first (scripts dropped); data: images are set aside
        # under stand-in URLs and become attachments.
        stash: dict[str, str] = {}
        tokens: dict[str, str] = {}

        def keep_data(url: str) -> str:
            if url not in tokens:
                tokens[url] = f"https://quire.invalid/import-image/{len(stash)}"
                stash[tokens[url]] = url
            return tokens[url]

        clean = convert.sanitize_html(
            html, data_image=keep_data, drop_content=frozenset({"title"})
        )
        tree = convert.pandoc_json(clean.encode("utf-8"), source="html")
        images = _Images(lambda url: _data_uri(stash[url]) if url in stash else None)
    convert.walk_tree(tree, images.visit)
    return convert.json_to_markdown(tree), tree, images


def document_import(
    *,
    user: "User",
    filename: str,
    declared_type: str,
    data: bytes,
    title: str = "",
) -> ImportResult:
    """Create a document from an uploaded file; its images become attachments."""
    limit = import_max_bytes()
    if len(data) > limit:
        raise too_large_error(limit)
    kind = import_type(filename=filename, declared=declared_type)
    if data.startswith(b"\xef\xbb\xbf") and kind != DOCX_TYPE:
        data = data[3:]
    _check_content(kind, data)
    try:
        body, tree, images = _convert(kind, data)
    except convert.ConversionFailed as error:
        if error.timed_out:
            raise conversion_timeout_error(
                _("The file took too long to convert.")
            ) from None
        raise _unsupported(_("The file could not be read.")) from None
    body = FORBIDDEN_CONTROLS.sub("", body)
    if len(body.encode("utf-8")) > settings.DOCUMENTS_MAX_BODY_BYTES:
        raise ApplicationError(
            _("The document is too large."), code="too_large", status=413
        )
    title = _title(requested=title, tree=tree, filename=filename)
    files = images.files
    if sum(len(item.data) for item in files) > attachment_quota_remaining_bytes(
        user=user
    ):
        raise quota_exceeded_error()
    server_files_store(files)
    try:
        with transaction.atomic():
            document = services.document_create(owner=user, title=title, body=body)
            attachments = server_files_attach(user=user, document=document, files=files)
    except BaseException:
        server_files_discard(keys=[item.storage_key for item in files])
        raise
    return ImportResult(
        document=document, attachments=attachments, skipped_images=images.skipped
    )

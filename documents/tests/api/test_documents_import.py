"""POST /api/v1/documents/import: Markdown, text, HTML and Word files in."""

import base64
import io
import subprocess
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile

import pytest

from attachments.adapters.storage import attachment_storage
from attachments.models import Attachment, StorageDeletion
from attachments.tests.factories import PNG_BYTES
from documents import convert
from documents.exports import DOCX_TYPE
from documents.models import Document

pytestmark = pytest.mark.django_db

URL = "/api/v1/documents/import"
MARKDOWN = "# Field notes\n\n- *one*\n- **two**\n"


def send(client, data, *, name="notes.md", content_type="text/markdown", **fields):
    return client.post(
        URL,
        {"file": SimpleUploadedFile(name, data, content_type=content_type), **fields},
        format="multipart",
    )


def make_docx(tmp_path, markdown: str, images: dict[str, bytes] | None = None):
    """Return a Word file pandoc writes from ``markdown`` (images beside it)."""
    for name, data in (images or {}).items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "in.md").write_text(markdown)
    subprocess.run(  # noqa: S603 - the test's own fixed command
        [convert.pandoc_path(), "-f", "gfm", "-t", "docx", "-o", "out.docx", "in.md"],
        cwd=tmp_path,
        check=True,
    )
    return (tmp_path / "out.docx").read_bytes()


def rezip(data: bytes, *, replace=None, add=None) -> bytes:
    """Return the ZIP ``data`` with members replaced or added."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            body = source.read(item)
            for prefix, value in (replace or {}).items():
                if item.filename.startswith(prefix):
                    body = value
            target.writestr(item.filename, body)
        for name, value in (add or {}).items():
            target.writestr(name, value)
    return out.getvalue()


def stored_keys() -> list[str]:
    root = attachment_storage().root
    return [p.name for p in root.rglob("*") if p.is_file()] if root.exists() else []


def stored(key: str) -> bytes:
    return attachment_storage().path(key).read_bytes()


def nothing_created() -> bool:
    return (
        not Document.objects.exists()
        and not Attachment.objects.exists()
        and stored_keys() == []
    )


def test_import_markdown_is_the_body(user, auth_client):
    """A Markdown file becomes a document with that body, titled by its name."""
    response = send(auth_client, MARKDOWN.encode())

    assert response.status_code == 201
    body = response.json()
    document = Document.objects.get()
    assert body["id"] == str(document.pk)
    assert body["body"] == MARKDOWN
    assert body["title"] == "notes"
    assert body["role"] == "owner"
    assert body["attachments"] == []
    assert body["skipped_images"] == 0
    assert document.owner == user
    assert response["Location"].endswith(f"/api/v1/documents/{document.pk}/")
    assert response["ETag"] == '"1"'
    assert document.revisions.count() == 1


def test_import_title_field_wins(auth_client):
    """An explicit title is used instead of the file name."""
    response = send(auth_client, MARKDOWN.encode(), title="My notes")

    assert response.json()["title"] == "My notes"


def test_import_title_with_newline_is_400(auth_client):
    """A title must be one line; nothing is created."""
    response = send(auth_client, MARKDOWN.encode(), title="a\nb")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert nothing_created()


def test_import_plain_text_by_extension(auth_client):
    """A .txt sent as octet-stream is imported as text, byte-order mark dropped."""
    response = send(
        auth_client,
        "\ufeffLine one\nLine two\n".encode(),
        name="memo.txt",
        content_type="application/octet-stream",
    )

    assert response.status_code == 201
    assert response.json()["body"] == "Line one\nLine two\n"
    assert response.json()["title"] == "memo"


def test_import_html_drops_scripts_keeps_structure(auth_client):
    """HTML is sanitised, then converted: headings and emphasis stay, scripts go."""
    html = (
        "<html><head><title>Ignored</title><script>alert(1)</script></head><body>"
        "<h1>Trip</h1><p>We <em>really</em> went.</p>"
        '<p onclick="steal()"><a href="javascript:alert(2)">bad</a></p>'
        "<script>document.cookie</script><ul><li>tent</li></ul></body></html>"
    )

    response = send(auth_client, html.encode(), name="trip.html", content_type="")

    assert response.status_code == 201
    body = response.json()["body"]
    assert body.startswith("# Trip\n\nWe *really* went.\n")
    assert "- tent" in body
    for hostile in ("script", "alert", "cookie", "steal", "javascript", "Ignored"):
        assert hostile not in body


def test_import_html_data_image_becomes_attachment(user, auth_client):
    """A data: image in HTML is stored as a ready attachment the body points to."""
    uri = "data:image/png;base64," + base64.b64encode(PNG_BYTES).decode()
    html = f'<h1>Pic</h1><p><img src="{uri}" alt="a dot"></p>'

    response = send(auth_client, html.encode(), name="pic.html", content_type="")

    assert response.status_code == 201
    attachment = Attachment.objects.get()
    assert response.json()["attachments"] == [str(attachment.pk)]
    assert attachment.status == Attachment.Status.READY
    assert attachment.content_type == "image/png"
    assert attachment.uploaded_by == user
    assert attachment.size_bytes == len(PNG_BYTES)
    assert stored(attachment.storage_key) == PNG_BYTES
    link = f"![a dot](/api/v1/attachments/{attachment.pk}/download/)"
    assert link in response.json()["body"]


def test_import_html_data_uri_of_other_type_is_dropped(auth_client):
    """A data: URI that is not an allowed image (here HTML) never becomes a file."""
    uri = "data:image/png;base64," + base64.b64encode(b"<script>x</script>").decode()
    html = f'<p>x <img src="{uri}" alt="fake"> <a href="data:text/html,hi">l</a></p>'

    response = send(auth_client, html.encode(), name="x.html", content_type="")

    assert response.status_code == 201
    assert response.json()["skipped_images"] == 1
    assert "data:" not in response.json()["body"]
    assert not Attachment.objects.exists()


def test_import_docx_round_trip_keeps_structure(auth_client, tmp_path):
    """A Word file's headings, lists and emphasis come back as Markdown."""
    data = make_docx(tmp_path, MARKDOWN)

    response = send(auth_client, data, name="Report.docx", content_type=DOCX_TYPE)

    assert response.status_code == 201
    assert response.json()["body"] == MARKDOWN
    assert response.json()["title"] == "Report"


def test_import_docx_image_becomes_attachment(auth_client, tmp_path):
    """An image inside a Word file is stored as an attachment and linked."""
    data = make_docx(tmp_path, "# Pic\n\n![a dot](dot.png)\n", {"dot.png": PNG_BYTES})

    response = send(auth_client, data, name="pic.docx", content_type="")

    assert response.status_code == 201
    attachment = Attachment.objects.get()
    assert attachment.content_type == "image/png"
    assert stored(attachment.storage_key) == PNG_BYTES
    assert f"/api/v1/attachments/{attachment.pk}/download/" in response.json()["body"]


def test_import_docx_unknown_image_type_is_skipped(auth_client, tmp_path):
    """An image attachments do not allow is left out; the import still succeeds."""
    data = make_docx(tmp_path, "![a dot](dot.png)\n", {"dot.png": PNG_BYTES})
    data = rezip(data, replace={"word/media/": b"not an image at all"})

    response = send(auth_client, data, name="pic.docx", content_type=DOCX_TYPE)

    assert response.status_code == 201
    assert response.json()["skipped_images"] == 1
    assert response.json()["body"] == "a dot\n"
    assert not Attachment.objects.exists()


def test_import_docx_zip_bomb_refused(auth_client, tmp_path):
    """A Word file whose parts unpack past the limit is 413; nothing is created."""
    data = make_docx(tmp_path, MARKDOWN)
    bomb = rezip(data, add={"word/media/zeros.bin": b"\0" * (60 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024

    response = send(auth_client, bomb, name="bomb.docx", content_type=DOCX_TYPE)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert nothing_created()


def test_import_docx_bomb_under_declared_limit_stops_while_inflating(
    auth_client, tmp_path, settings
):
    """Parts are counted as they inflate, so the limit holds for every part."""
    data = make_docx(tmp_path, MARKDOWN)
    settings.DOCUMENTS_IMPORT_MAX_UNPACKED_BYTES = len(data) * 20
    padded = rezip(data, add={"word/media/pad.bin": b"\0" * (len(data) * 30)})

    response = send(auth_client, padded, name="pad.docx", content_type=DOCX_TYPE)

    assert response.status_code == 413
    assert nothing_created()


def test_import_docx_with_dtd_refused(auth_client, tmp_path):
    """An XML part with a DTD (entity expansion) is refused with 415."""
    data = make_docx(tmp_path, MARKDOWN)
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]>'
        b"<w:document>&lol;</w:document>"
    )
    hostile = rezip(data, replace={"word/document.xml": laughs})

    response = send(auth_client, hostile, name="lol.docx", content_type=DOCX_TYPE)

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_type"
    assert nothing_created()


def test_import_zip_that_is_not_word_refused(auth_client):
    """A ZIP without Word's parts, named .docx, is 415."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")

    response = send(auth_client, out.getvalue(), name="x.docx", content_type=DOCX_TYPE)

    assert response.status_code == 415
    assert nothing_created()


def test_import_50_mb_file_is_413(auth_client):
    """A 50 MB file is refused before it is read; nothing is created."""
    response = send(auth_client, b"a" * (50 * 1024 * 1024))

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert response.json()["max_bytes"] == 10 * 1024 * 1024
    assert nothing_created()


def test_import_file_past_limit_stops_while_streaming(auth_client, settings):
    """A file just past the limit (body within the slack) is stopped as it streams."""
    settings.DOCUMENTS_IMPORT_MAX_BYTES = 1000

    response = send(auth_client, b"a" * 1001)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert nothing_created()


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (PNG_BYTES, "photo.png", "image/png"),
        (PNG_BYTES, "notes.md", "text/markdown"),
        (b"%PDF-1.7\n", "report.docx", DOCX_TYPE),
        (b"plain words", "report.docx", DOCX_TYPE),
        (b"hello", "archive.tar", "application/x-tar"),
    ],
)
def test_import_wrong_type_is_415(auth_client, data, name, content_type):
    """A type the import does not take, or bytes unlike the type, are 415."""
    response = send(auth_client, data, name=name, content_type=content_type)

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_type"
    assert nothing_created()


def test_import_non_utf8_text_is_415(auth_client):
    """Text that is not UTF-8 (here Latin-1) is refused, not guessed."""
    response = send(auth_client, "Café crème\n".encode("latin-1"))

    assert response.status_code == 415
    assert response.json() == {
        "detail": "Text files must be UTF-8 encoded.",
        "code": "invalid_encoding",
    }
    assert nothing_created()


def test_import_control_characters_are_dropped(auth_client):
    """Control characters a document may not hold are removed from the body."""
    response = send(auth_client, b"page one\x0cpage two\x07\n")

    assert response.json()["body"] == "page onepage two\n"


def test_import_body_over_document_limit_is_413(auth_client, settings):
    """A file that converts to a body past the document limit is 413."""
    settings.DOCUMENTS_MAX_BODY_BYTES = 10

    response = send(auth_client, MARKDOWN.encode())

    assert response.status_code == 413
    assert nothing_created()


def test_import_converter_timeout_is_503(auth_client, settings):
    """A conversion past the time limit answers 503 with Retry-After; nothing made."""
    settings.DOCUMENTS_CONVERT_TIMEOUT_SECONDS = 0

    response = send(auth_client, b"<p>Hi</p>", name="hi.html", content_type="")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json() == {
        "detail": "The file took too long to convert.",
        "code": "conversion_timeout",
    }
    assert nothing_created()


def test_import_without_file_is_400(auth_client):
    """A multipart body without the file field is a 400 file_missing."""
    response = auth_client.post(URL, {"title": "x"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["code"] == "file_missing"


def test_import_json_body_is_415(auth_client):
    """The import takes multipart only."""
    response = auth_client.post(URL, {"body": "x"}, format="json")

    assert response.status_code == 415
    assert response.json()["code"] == "multipart_required"


def test_import_anonymous_is_401(api_client):
    """Without a token nothing is imported."""
    response = send(api_client, MARKDOWN.encode())

    assert response.status_code == 401
    assert nothing_created()


def test_import_over_quota_creates_nothing(auth_client, tmp_path, settings):
    """Images past the storage quota refuse the whole import with 413."""
    settings.ATTACHMENT_USER_QUOTA_BYTES = len(PNG_BYTES) - 1
    data = make_docx(tmp_path, "![a dot](dot.png)\n", {"dot.png": PNG_BYTES})

    response = send(auth_client, data, name="pic.docx", content_type=DOCX_TYPE)

    assert response.status_code == 413
    assert response.json()["code"] == "quota_exceeded"
    assert nothing_created()


def test_import_failing_in_transaction_discards_stored_images(
    auth_client, tmp_path, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """If the quota is spent between the check and the write, nothing stays."""
    from documents import imports

    settings.ATTACHMENT_USER_QUOTA_BYTES = len(PNG_BYTES) - 1
    # The early check saw room (another upload spent it since).
    monkeypatch.setattr(imports, "attachment_quota_remaining_bytes", lambda **_: 10**9)
    data = make_docx(tmp_path, "![a dot](dot.png)\n", {"dot.png": PNG_BYTES})

    with django_capture_on_commit_callbacks(execute=True):
        response = send(auth_client, data, name="pic.docx", content_type=DOCX_TYPE)

    assert response.status_code == 413
    assert nothing_created()
    assert not StorageDeletion.objects.exists()


def test_import_retry_with_idempotency_key_creates_one_document(auth_client):
    """A retried import with the same Idempotency-Key replays the first answer."""
    first = auth_client.post(
        URL,
        {"file": SimpleUploadedFile("a.md", b"# A\n", content_type="text/markdown")},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="import-1",
    )
    again = auth_client.post(
        URL,
        {"file": SimpleUploadedFile("a.md", b"# A\n", content_type="text/markdown")},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="import-1",
    )

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Document.objects.count() == 1


def test_import_same_image_twice_is_one_attachment(auth_client):
    """An image shown twice is stored once; both places link to it."""
    uri = "data:image/png;base64," + base64.b64encode(PNG_BYTES).decode()
    html = f'<p><img src="{uri}" alt="one"></p><p><img src="{uri}" alt="two"></p>'

    response = send(auth_client, html.encode(), name="twice.html", content_type="")

    attachment = Attachment.objects.get()
    url = f"/api/v1/attachments/{attachment.pk}/download/"
    assert response.json()["body"] == f"![one]({url})\n\n![two]({url})\n"


def test_import_schema_declares_the_title_pattern_the_server_checks(db):
    """The multipart title declares the control characters the server refuses."""
    from drf_spectacular.generators import SchemaGenerator

    from project.fields import SINGLE_LINE_PATTERN

    schema = SchemaGenerator().get_schema(public=True)
    body = schema["paths"]["/api/v1/documents/import"]["post"]["requestBody"]
    title = body["content"]["multipart/form-data"]["schema"]["properties"]["title"]
    assert title["pattern"] == SINGLE_LINE_PATTERN

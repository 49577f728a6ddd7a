"""GET /api/v1/documents/{id}/export and .../revisions/{n}/export."""

import base64
import io
import zipfile

import pytest
from pypdf import PdfReader

from attachments.adapters.storage import attachment_storage
from attachments.models import Attachment
from attachments.tests.factories import AttachmentFactory
from documents import convert
from documents.exports import DOCX_TYPE, export_filename
from documents.models import DocumentRevision

pytestmark = pytest.mark.django_db

BODY = (
    "# Launch plan\n\n"
    "Ship the *first* draft with **bold** claims.\n\n"
    "## Steps\n\n"
    "- write the intro\n"
    "- review the numbers\n\n"
    "1. first\n"
    "2. second\n"
)
HOSTILE = (
    "# Notes\n\n"
    "Before the script.\n\n"
    "<script>alert('owned')</script>\n\n"
    '<p onclick="steal()">Click</p>\n\n'
    "[bad](javascript:alert(1)) and [file](/api/v1/attachments/abc/download/)\n"
)


# A real 1x1 PNG (the renderers decode it).
DOT_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def stored_image(doc):
    attachment = AttachmentFactory(document=doc, size_bytes=len(DOT_PNG))
    attachment_storage().put(
        key=attachment.storage_key, data=DOT_PNG, content_type="image/png"
    )
    doc.body = f"# Pic\n\n![a dot](/api/v1/attachments/{attachment.pk}/download/)\n"
    doc.save()
    return attachment


def tree(markdown: bytes) -> list:
    return convert.pandoc_json(markdown, source="gfm")["blocks"]


def export(client, doc, fmt, *, revision=None):
    path = f"/api/v1/documents/{doc.pk}/"
    if revision is not None:
        path += f"revisions/{revision}/"
    return client.get(f"{path}export", {"format": fmt})


@pytest.fixture
def plan(doc):
    doc.title = "Launch plan"
    doc.body = BODY
    doc.save()
    return doc


def test_export_md_is_the_body_as_a_download(plan, owner, client_for):
    """Markdown export answers the stored body with a file name from the title."""
    response = export(client_for(owner), plan, "md")

    assert response.status_code == 200
    assert response.content == BODY.encode()
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="Launch plan.md"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_export_filename_of_unicode_title_uses_rfc_6266(doc, owner, client_for):
    """A title with non-ASCII characters and slashes gives a safe, encoded name."""
    doc.title = 'Café / "Q3" plan'
    doc.save()

    response = export(client_for(owner), doc, "md")

    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''Caf%C3%A9%20-%20-Q3-%20plan.md"
    )


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("", "document.md"),
        ("...", "document.md"),
        ("../../etc/passwd", "etc-passwd.md"),
        ("a\tb\u2028c", "a b c.md"),
        ("x" * 300, "x" * 120 + ".md"),
    ],
)
def test_export_filename_is_one_safe_line(title, name):
    """File names never carry paths or control characters and are never empty."""
    assert export_filename(title, "md") == name


def test_export_html_is_sanitised(doc, owner, client_for):
    """Scripts, event handlers and javascript: links in the body do not survive."""
    doc.body = HOSTILE
    doc.save()

    response = export(client_for(owner), doc, "html")

    html = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "<h1" in html
    assert "Before the script." in html
    assert "<script" not in html
    assert "alert(" not in html
    assert "onclick" not in html
    assert "javascript:" not in html
    assert 'href="http://testserver/api/v1/attachments/abc/download/"' in html


def test_export_html_lists_attachments_with_download_urls(plan, owner, client_for):
    """Ready attachments are linked by their absolute download URL; others not."""
    ready = AttachmentFactory(document=plan, filename="chart.png")
    AttachmentFactory(
        document=plan, filename="pending.png", status=Attachment.Status.PENDING
    )

    html = export(client_for(owner), plan, "html").content.decode()

    url = f"http://testserver/api/v1/attachments/{ready.pk}/download/"
    assert f'<a href="{url}">chart.png</a>' in html
    assert "pending.png" not in html
    assert "<title>Launch plan</title>" in html


def test_export_pdf_text_contains_the_document(plan, owner, client_for):
    """The PDF is a real PDF whose extracted text holds the document's words."""
    response = export(client_for(owner), plan, "pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="Launch plan.pdf"'
    text = "\n".join(
        page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages
    )
    for words in ("Launch plan", "Ship the first draft", "review the numbers"):
        assert words in text


def test_export_pdf_of_hostile_body_has_no_script_text(doc, owner, client_for):
    """The PDF is made from the sanitised page: the script's text is not in it."""
    doc.body = HOSTILE
    doc.save()

    response = export(client_for(owner), doc, "pdf")

    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "Before the script." in text
    assert "owned" not in text


def test_export_docx_round_trips_to_markdown(plan, owner, client_for):
    """md -> docx -> md keeps headings, lists and emphasis."""
    response = export(client_for(owner), plan, "docx")

    assert response.status_code == 200
    assert response["Content-Type"] == DOCX_TYPE
    assert response["Content-Disposition"] == (
        'attachment; filename="Launch plan.docx"'
    )
    assert zipfile.ZipFile(io.BytesIO(response.content)).testzip() is None
    back = convert.pandoc(response.content, source="docx", target="gfm")
    # Compared as syntax trees: pandoc may space list markers differently.
    assert tree(back) == tree(BODY.encode())
    assert b"# Launch plan" in back
    assert b"*first*" in back
    assert b"**bold**" in back
    assert b"- review the numbers" in back


def test_export_docx_turns_images_into_absolute_links(doc, owner, client_for):
    """An image the sandboxed converter cannot fetch becomes a link to it."""
    doc.body = "See ![the chart](/api/v1/attachments/abc/download/).\n"
    doc.save()

    response = export(client_for(owner), doc, "docx")

    back = convert.pandoc(response.content, source="docx", target="gfm").decode()
    assert back == (
        "See [the chart](http://testserver/api/v1/attachments/abc/download/).\n"
    )


@pytest.mark.parametrize("fmt", ["md", "html", "pdf", "docx"])
def test_export_revision_is_that_revision(doc, owner, client_for, fmt):
    """A revision's export carries that revision's text, not the current one."""
    DocumentRevision.objects.create(
        document=doc, number=2, author=owner, title="Old", body="Ancient words\n"
    )
    doc.title, doc.body = "New", "Current words\n"
    doc.save()

    response = export(client_for(owner), doc, fmt, revision=2)

    assert response.status_code == 200
    assert f'filename="Old.{fmt}"' in response["Content-Disposition"]
    if fmt == "pdf":
        text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    elif fmt == "docx":
        text = convert.pandoc(response.content, source="docx", target="gfm").decode()
    else:
        text = response.content.decode()
    assert "Ancient words" in text
    assert "Current words" not in text


def test_export_unknown_revision_is_404(doc, owner, client_for):
    """A revision number the document does not have is a 404."""
    response = export(client_for(owner), doc, "md", revision=9)

    assert response.status_code == 404
    assert response.json() == {"detail": "Revision not found.", "code": "not_found"}


@pytest.mark.parametrize("role", ["owner", "editor", "viewer"])
def test_export_allowed_for_every_reader(doc, as_role, client_for, role):
    """Anyone who can read the document can export it, viewers included."""
    response = export(client_for(as_role(role)), doc, "md")

    assert response.status_code == 200
    assert response.content == b"First draft."


@pytest.mark.parametrize("revision", [None, 1])
def test_export_of_someone_elses_document_is_404(doc, stranger, client_for, revision):
    """A document the caller cannot see answers 404, as if it did not exist."""
    response = export(client_for(stranger), doc, "html", revision=revision)

    assert response.status_code == 404
    assert response.json() == {"detail": "Document not found.", "code": "not_found"}


def test_export_trashed_document_is_404_for_collaborators(doc, viewer, client_for):
    """A trashed document is invisible to the people it was shared with."""
    from django.utils import timezone

    doc.trashed_at = timezone.now()
    doc.save()

    assert export(client_for(viewer), doc, "md").status_code == 404


def test_export_trashed_document_by_its_owner(doc, owner, client_for):
    """The owner can still export a document from the trash, as they can read it."""
    from django.utils import timezone

    doc.trashed_at = timezone.now()
    doc.save()

    response = export(client_for(owner), doc, "md")

    assert response.status_code == 200
    assert response.content == b"First draft."


def test_export_anonymous_is_401(doc, api_client):
    """Without a token the export is refused with 401."""
    response = export(api_client, doc, "md")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("query", [{"format": "exe"}, {}, {"format": ""}])
def test_export_bad_format_is_400(doc, owner, client_for, query):
    """A missing or unknown format is a 400 naming the field, as JSON."""
    response = client_for(owner).get(f"/api/v1/documents/{doc.pk}/export", query)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["format"]


def test_export_converter_failure_is_500_json(doc, owner, client_for, settings):
    """A converter that runs out of memory answers 500 conversion_failed."""
    doc.body = "- item *x*\n" * 20_000
    doc.save()
    settings.DOCUMENTS_CONVERT_MEMORY_MB = 1

    response = export(client_for(owner), doc, "docx")

    assert response.status_code == 500
    assert response.json() == {
        "detail": "The document could not be converted.",
        "code": "conversion_failed",
    }


def test_export_converter_timeout_is_503(doc, owner, client_for, settings):
    """A conversion past the time limit is killed and answers 503 with Retry-After."""
    settings.DOCUMENTS_CONVERT_TIMEOUT_SECONDS = 0

    response = export(client_for(owner), doc, "html")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["code"] == "conversion_timeout"


def test_export_pdf_embeds_the_documents_images(doc, owner, client_for):
    """An image attachment the body shows is drawn in the PDF."""
    stored_image(doc)

    response = export(client_for(owner), doc, "pdf")

    page = PdfReader(io.BytesIO(response.content)).pages[0]
    assert len(page.images) == 1


def test_export_docx_embeds_the_documents_images(doc, owner, client_for):
    """An image attachment the body shows is carried inside the Word file."""
    stored_image(doc)

    response = export(client_for(owner), doc, "docx")

    archive = zipfile.ZipFile(io.BytesIO(response.content))
    media = [name for name in archive.namelist() if name.startswith("word/media/")]
    assert [archive.read(name) for name in media] == [DOT_PNG]


def test_export_images_past_the_limit_stay_links(doc, owner, client_for, settings):
    """Images past DOCUMENTS_EXPORT_IMAGES_MAX_BYTES are linked, not embedded."""
    attachment = stored_image(doc)
    settings.DOCUMENTS_EXPORT_IMAGES_MAX_BYTES = len(DOT_PNG) - 1

    response = export(client_for(owner), doc, "docx")

    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert not [n for n in archive.namelist() if n.startswith("word/media/")]
    back = convert.pandoc(
        response.content, source="docx", target="gfm", extra=("--wrap=none",)
    ).decode()
    url = f"http://testserver/api/v1/attachments/{attachment.pk}/download/"
    assert f"[a dot]({url})" in back


def test_export_image_of_another_document_is_not_embedded(doc, owner, client_for):
    """Only the exported document's own attachments are read from storage."""
    other = AttachmentFactory(size_bytes=len(DOT_PNG))
    attachment_storage().put(
        key=other.storage_key, data=DOT_PNG, content_type="image/png"
    )
    doc.body = f"![x](/api/v1/attachments/{other.pk}/download/)\n"
    doc.save()

    response = export(client_for(owner), doc, "docx")

    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert not [n for n in archive.namelist() if n.startswith("word/media/")]


def test_export_through_anyone_link_needs_no_account(plan, api_client):
    """An `anyone` link's holder exports the document without signing in."""
    from documents.tests.factories import ShareLinkFactory

    link = ShareLinkFactory(document=plan)

    response = api_client.get(f"/api/v1/links/{link.secret}/export", {"format": "md"})

    assert response.status_code == 200
    assert response.content == BODY.encode()
    assert response["Content-Disposition"] == 'attachment; filename="Launch plan.md"'


def test_export_through_link_lists_and_embeds_no_attachments(plan, api_client):
    """A link opens the document, not its files: none are listed or embedded."""
    from documents.tests.factories import ShareLinkFactory

    stored_image(plan)
    AttachmentFactory(document=plan, filename="secret-plan.png")
    link = ShareLinkFactory(document=plan)

    html = api_client.get(f"/api/v1/links/{link.secret}/export", {"format": "html"})
    docx = api_client.get(f"/api/v1/links/{link.secret}/export", {"format": "docx"})

    assert html.status_code == docx.status_code == 200
    assert "secret-plan.png" not in html.content.decode()
    assert "Attachments" not in html.content.decode()
    archive = zipfile.ZipFile(io.BytesIO(docx.content))
    assert not [n for n in archive.namelist() if n.startswith("word/media/")]


def test_export_through_signed_in_link_anonymous_is_401(plan, api_client):
    """A `signed_in` link exports nothing to an anonymous caller."""
    from documents.models import ShareLink
    from documents.tests.factories import ShareLinkFactory

    link = ShareLinkFactory(document=plan, audience=ShareLink.Audience.SIGNED_IN)

    response = api_client.get(f"/api/v1/links/{link.secret}/export", {"format": "md"})

    assert response.status_code == 401


def test_export_through_revoked_link_is_404(plan, api_client):
    """A revoked link's export answers 404, like a link that never existed."""
    from django.utils import timezone

    from documents.tests.factories import ShareLinkFactory

    link = ShareLinkFactory(document=plan, revoked_at=timezone.now())

    response = api_client.get(f"/api/v1/links/{link.secret}/export", {"format": "md"})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"

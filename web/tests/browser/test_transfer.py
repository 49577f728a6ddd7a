"""Export a document from the menu and import a file as a new one: in a browser."""

import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

pytestmark = pytest.mark.browser


def test_export_menu_downloads_pdf_and_markdown(page, app_url, sign_in, shot, axe):
    """The Export menu downloads the text as typed, as PDF and as Markdown."""
    sign_in(page, "exporter@example.com")
    page.get_by_role("button", name="New document").click()
    page.get_by_label("Title").fill("Field report")
    page.get_by_label("Text (Markdown)").fill("# Findings\n\nThe bridge *holds*.")
    expect(page.locator("#save-state")).to_have_text(re.compile(r"version [2-9]"))

    page.locator("#export-menu summary").click()
    axe(page, context="with the export menu open")
    shot(page, "export-menu")
    with page.expect_download() as pdf_download:
        page.get_by_role("button", name="PDF (.pdf)").click()
    pdf = pdf_download.value
    assert pdf.suggested_filename == "Field report.pdf"
    text = PdfReader(io.BytesIO(Path(pdf.path()).read_bytes())).pages[0].extract_text()
    assert "The bridge holds." in text

    page.get_by_label("Text (Markdown)").fill("# Findings\n\nUnsaved edit.")
    page.locator("#export-menu summary").click()
    with page.expect_download() as md_download:
        page.get_by_role("button", name="Markdown (.md)").click()
    md = md_download.value
    assert md.suggested_filename == "Field report.md"
    # Exported after a save: what the writer sees, not the last autosave.
    assert Path(md.path()).read_text() == "# Findings\n\nUnsaved edit."


def test_import_button_turns_a_file_into_a_document(
    page, app_url, sign_in, shot, tmp_path
):
    """Importing an HTML file opens a new document with its text, scripts gone."""
    from documents.models import Document

    source = tmp_path / "Trip notes.html"
    source.write_text(
        "<h1>Lisbon</h1><p>We took the <strong>tram</strong>.</p>"
        "<script>window.__pwned = 1</script>"
    )
    sign_in(page, "importer@example.com")

    page.locator("#import-file").set_input_files(str(source))

    expect(page.get_by_label("Title")).to_have_value("Trip notes")
    expect(page.get_by_label("Text (Markdown)")).to_have_value(
        "# Lisbon\n\nWe took the **tram**.\n"
    )
    expect(page.locator("#preview strong")).to_have_text("tram")
    expect(page.locator("#notice")).to_contain_text("Trip notes.html is imported.")
    shot(page, "imported")
    document = Document.objects.get(owner__email="importer@example.com")
    assert "pwned" not in document.body


def test_import_of_wrong_type_says_why(page, app_url, sign_in, tmp_path):
    """A file the import does not take leaves a sentence, and no document."""
    from documents.models import Document

    source = tmp_path / "photo.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    sign_in(page, "wrongtype@example.com")

    page.locator("#import-file").set_input_files(str(source))

    expect(page.locator("#notice")).to_contain_text("cannot be imported")
    assert not Document.objects.filter(owner__email="wrongtype@example.com").exists()


def test_shared_page_downloads_the_document(browser, app_url):
    """A visitor of an `anyone` link downloads the document as Word, no account."""
    from documents.tests.factories import DocumentFactory, ShareLinkFactory

    document = DocumentFactory(title="Open plan", body="# Open plan\n\nRead *this*.\n")
    link = ShareLinkFactory(document=document)
    visitor = browser.new_context(accept_downloads=True).new_page()
    visitor.goto(f"{app_url}/s/{link.secret}")

    with visitor.expect_download() as word:
        visitor.get_by_role("link", name="Word").click()

    assert word.value.suggested_filename == "Open plan.docx"
    data = Path(word.value.path()).read_bytes()
    assert data.startswith(b"PK")

"""Sign in, write, autosave, survive a reload: in a real browser."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_sign_in_create_edit_autosave(page, app_url, sign_in, shot, axe):
    """A writer signs in, creates a document, types; autosave keeps it."""
    from documents.models import Document

    page.goto(f"{app_url}/signin")
    axe(page, context="on the sign-in page")
    shot(page, "signin")
    sign_in(page, "writer@example.com")
    expect(page.locator("#account-name")).to_have_text("writer@example.com")
    page.get_by_role("button", name="New document").click()
    page.get_by_label("Title").fill("Travel notes")
    page.get_by_label("Text (Markdown)").fill("# Lyon\n\nWe ate **well**.")
    expect(page.locator("#preview strong")).to_have_text("well")
    expect(page.locator("#save-state")).to_have_text(
        re.compile(r"Saved · version [2-9]")
    )
    axe(page, context="in the editor")
    shot(page, "editor")

    document = Document.objects.get(title="Travel notes")
    assert document.body == "# Lyon\n\nWe ate **well**."
    page.reload()
    expect(page.get_by_label("Title")).to_have_value("Travel notes")
    page.goto(f"{app_url}/#/")
    expect(page.locator("#documents")).to_contain_text("Travel notes")
    axe(page, context="on the list")
    shot(page, "list")


def test_search_shows_highlighted_snippets(page, app_url, sign_in, shot):
    """Searching lists matching documents with the match marked in the snippet."""
    sign_in(page, "finder@example.com")
    for title, body in [("Alps", "We hiked near Chamonix."), ("Sea", "Boats.")]:
        page.get_by_role("button", name="New document").click()
        page.get_by_label("Title").fill(title)
        page.get_by_label("Text (Markdown)").fill(body)
        expect(page.locator("#save-state")).to_have_text(re.compile(r"version [2-9]"))
        page.get_by_role("link", name="← Documents").click()

    page.get_by_label("Search documents").fill("Chamonix")
    page.get_by_label("Search documents").press("Enter")

    expect(page.locator("#documents .doc")).to_have_count(1)
    expect(page.locator("#documents mark")).to_have_text("Chamonix")
    shot(page, "search")


def test_preview_never_runs_a_documents_script(page, app_url, sign_in):
    """Script in a document's Markdown is removed from the preview, never run."""
    sign_in(page, "xss@example.com")
    page.get_by_role("button", name="New document").click()
    page.get_by_label("Text (Markdown)").fill(
        '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>ok'
    )
    expect(page.locator("#preview")).to_contain_text("ok")

    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#preview script").count() == 0
    assert page.locator("#preview img").get_attribute("onerror") is None

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

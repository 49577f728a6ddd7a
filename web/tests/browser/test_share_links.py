"""Share links in a real browser: made in the Share panel, opened anonymously, revoked."""

import re

import pytest
from playwright.sync_api import expect

from web.tests.browser.test_collaboration import new_document
from web.tests.browser.test_merging import save_then_type

pytestmark = pytest.mark.browser


def create_link(page, *, audience: str = "anyone", role: str = "viewer") -> str:
    page.get_by_role("button", name="Share").click()
    page.get_by_label("Who can open the link").select_option(audience)
    page.get_by_label("What the link allows").select_option(role)
    page.get_by_role("button", name="Create link").click()
    field = page.get_by_label("Copy this link now: it is shown only once.")
    expect(field).to_have_value(re.compile(r"/s/[A-Za-z0-9_-]{43}$"))
    return field.input_value()


def test_share_link_opened_anonymously_then_revoked_is_404(browser, sign_in, shot, axe):
    """The owner makes a link; a visitor without an account reads it; revoked, it is 404."""
    owner = sign_in(browser.new_context().new_page(), "linker@example.com")
    new_document(
        owner,
        "Open plan",
        '# Open plan\n\nEveryone may **read** this.\n\n<img src=x alt="a picture" onerror=alert(1)>',
    )
    url = create_link(owner)
    expect(owner.locator("#share-links")).to_have_text(
        re.compile(r"^Anyone with the link can view\s*Revoke$")
    )
    axe(owner, context="in the share panel with a new link")
    shot(owner, "share-panel")

    visitor = browser.new_context().new_page()
    dialogs: list[str] = []
    visitor.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    response = visitor.goto(url)
    assert response.status == 200
    expect(
        visitor.get_by_role("heading", name="Open plan", exact=True).first
    ).to_be_visible()
    expect(visitor.locator("#shared-body strong")).to_have_text("read")
    expect(visitor.locator("#shared-source")).to_be_hidden()
    assert visitor.locator("#shared-body img[onerror]").count() == 0
    assert "linker@example.com" not in visitor.content()
    axe(visitor, context="on the shared page")
    shot(visitor, "shared-page")

    owner.get_by_role("button", name=re.compile("^Revoke the link")).click()
    expect(owner.locator("#share-links")).to_contain_text("No links yet.")

    again = visitor.goto(url)
    assert again.status == 404
    expect(visitor.locator("body")).not_to_contain_text("Everyone may")
    assert dialogs == []


def test_share_link_editor_link_opens_the_editor_for_a_signed_in_user(
    browser, app_url, sign_in
):
    """A signed-in user with an editor link edits in the editor; the save goes through."""
    from documents.models import Document

    owner = sign_in(browser.new_context().new_page(), "editlinker@example.com")
    doc_id = new_document(owner, "Team notes", "First line\n")
    url = create_link(owner, role="editor")

    guest = sign_in(browser.new_context().new_page(), "guest@example.com")
    guest.goto(url)
    guest.wait_for_url(re.compile(r"/#/s/[A-Za-z0-9_-]{43}$"))
    text = guest.get_by_label("Text (Markdown)")
    expect(text).to_have_value("First line\n")
    expect(guest.get_by_role("button", name="History")).to_be_hidden()
    text.fill("First line\nA guest's line\n")
    expect(guest.locator("#save-state")).to_have_text(re.compile(r"Saved · version"))

    assert Document.objects.get(pk=doc_id).body == "First line\nA guest's line\n"
    guest.goto(f"{app_url}/#/d/{doc_id}")  # the link granted nothing else
    expect(guest.locator("#notice")).to_contain_text("no longer exists")


def test_share_link_editor_and_owner_in_different_paragraphs_both_save(
    browser, sign_in
):
    """A writer through an editor link and the owner at once: the saves are merged."""
    from documents.models import Document

    base = "First paragraph.\n\nSecond paragraph.\n"
    owner = sign_in(browser.new_context().new_page(), "mergelinker@example.com")
    doc_id = new_document(owner, "Merged through a link", base)
    url = create_link(owner, role="editor")
    owner.get_by_role("button", name="Close panel").click()
    guest = sign_in(browser.new_context().new_page(), "mergeguest@example.com")
    guest.goto(url)
    expect(guest.get_by_label("Text (Markdown)")).to_have_value(base)
    version = Document.objects.get(pk=doc_id).version

    save_then_type(
        owner,
        "First paragraph, by the owner.\n\nSecond paragraph.\n",
        guest,
        "First paragraph.\n\nSecond paragraph, by a guest.\n",
        version=version,
    )

    both = "First paragraph, by the owner.\n\nSecond paragraph, by a guest.\n"
    expect(guest.locator("#save-state")).to_have_text(
        re.compile(rf"Saved · version {version + 2} · merged")
    )
    expect(guest.get_by_label("Text (Markdown)")).to_have_value(both)
    expect(guest.locator("#conflict")).to_be_hidden()
    assert Document.objects.get(pk=doc_id).body == both

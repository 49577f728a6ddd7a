"""Two writers at once, sharing, files, AI, trash and leaving: in a real browser."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

RECORD_CHANGES = """(selector) => {
  window.__seen = [];
  const target = document.querySelector(selector);
  const note = () => window.__seen.push(target.value ?? target.textContent.length);
  new MutationObserver(note).observe(target, {attributes: true, childList: true, subtree: true, characterData: true});
}"""


def new_document(page, title: str, body: str) -> str:
    page.get_by_role("button", name="New document").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Text (Markdown)").fill(body)
    expect(page.locator("#save-state")).to_have_text(
        re.compile(r"Saved · version [2-9]")
    )
    return page.url.rsplit("/", 1)[-1]


def test_conflict_between_two_tabs_merged_by_hand_loses_nothing(
    browser, app_url, sign_in, shot, axe
):
    """Two contexts edit one document; the later writer merges, keeping both texts."""
    from documents.models import Document

    first = sign_in(browser.new_context().new_page(), "both@example.com")
    doc_id = new_document(first, "Shared plan", "Line one\n")
    second = sign_in(browser.new_context().new_page(), "both@example.com")
    second.goto(f"{app_url}/#/d/{doc_id}")
    expect(second.get_by_label("Text (Markdown)")).to_have_value("Line one\n")

    first.get_by_label("Text (Markdown)").fill("Line one\nFrom the first tab\n")
    expect(first.locator("#save-state")).to_have_text(re.compile(r"version 3"))
    second.get_by_label("Text (Markdown)").fill("Line one\nFrom the second tab\n")
    expect(second.locator("#conflict")).to_be_visible()
    expect(second.locator("#conflict-theirs")).to_contain_text("From the first tab")
    expect(second.locator("#conflict-mine")).to_contain_text("From the second tab")
    axe(second, context="in the conflict view")
    shot(second, "conflict")

    second.reload()  # the local draft survives a reload and the conflict is shown again
    expect(second.locator("#conflict")).to_be_visible()
    second.get_by_role("button", name="Merge by hand").click()
    merged = second.get_by_label("Merged text (edit, then save)")
    expect(merged).to_have_value(
        re.compile("From the second tab[\\s\\S]*From the first tab")
    )
    merged.fill("Line one\nFrom the first tab\nFrom the second tab\n")
    second.get_by_role("button", name="Save merged version").click()
    expect(second.locator("#save-state")).to_have_text(re.compile(r"Saved · version 4"))

    body = Document.objects.get(pk=doc_id).body
    assert body == "Line one\nFrom the first tab\nFrom the second tab\n"
    assert (
        second.evaluate(f"() => localStorage.getItem('quire:draft:{doc_id}')") is None
    )


def test_conflict_keep_mine_overwrites_with_the_later_text(browser, app_url, sign_in):
    """Keep mine saves the local text over the other writer's, as a new version."""
    from documents.models import Document

    first = sign_in(browser.new_context().new_page(), "keep@example.com")
    doc_id = new_document(first, "Keep", "base\n")
    second = sign_in(browser.new_context().new_page(), "keep@example.com")
    second.goto(f"{app_url}/#/d/{doc_id}")
    expect(second.get_by_label("Text (Markdown)")).to_have_value("base\n")
    first.get_by_label("Text (Markdown)").fill("theirs\n")
    expect(first.locator("#save-state")).to_have_text(re.compile(r"version 3"))
    second.get_by_label("Text (Markdown)").fill("mine\n")
    second.get_by_role("button", name="Keep mine").click()

    expect(second.locator("#save-state")).to_have_text(re.compile(r"version 4"))
    assert Document.objects.get(pk=doc_id).body == "mine\n"


def test_share_with_a_second_user_who_then_sees_it(browser, app_url, sign_in, axe):
    """The owner shares by email; the friend finds it under Shared with me."""
    friend = sign_in(browser.new_context().new_page(), "friend@example.com")
    owner = sign_in(browser.new_context().new_page(), "owner@example.com")
    new_document(owner, "For my friend", "Hello")

    owner.get_by_role("button", name="Share").click()
    owner.get_by_label("Add a person by email").fill("friend@example.com")
    owner.get_by_label("Role for the new person").select_option("viewer")
    owner.locator(".share-form").get_by_role("button", name="Share").click()
    expect(owner.locator(".grants")).to_contain_text("friend@example.com")
    owner.get_by_label("Add a person by email").fill("later@example.com")
    owner.locator(".share-form").get_by_role("button", name="Share").click()
    expect(owner.locator(".grants")).to_contain_text(
        "later@example.com (invitation pending)"
    )
    axe(owner, context="in the sharing panel")

    friend.goto(f"{app_url}/#/shared")
    friend.get_by_role("link", name="For my friend").click()
    expect(friend.get_by_label("Text (Markdown)")).to_have_value("Hello")
    expect(friend.locator("#save-state")).to_have_text("View only")


def test_upload_with_progress_then_download_and_delete(
    page, app_url, sign_in, tmp_path
):
    """A file uploads with a progress bar, downloads intact, and can be deleted."""
    sign_in(page, "files@example.com")
    new_document(page, "With a file", "See attached.")
    page.get_by_role("button", name="Files").click()
    content = ("notes, " * 150_000).encode()  # ~1 MB, so progress has steps
    page.get_by_label("Attach a file").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": content}
    )
    page.evaluate(RECORD_CHANGES, "#upload-progress")
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-state")).to_have_text("notes.txt is uploaded.")
    seen = page.evaluate("() => window.__seen")
    assert 100 in [int(v) for v in seen if str(v).isdigit()], seen

    with page.expect_download() as download:
        page.get_by_role("link", name="notes.txt").click()
    saved = tmp_path / "downloaded.txt"
    download.value.save_as(saved)
    assert saved.read_bytes() == content

    page.get_by_role("button", name="Delete notes.txt").click()
    expect(page.locator(".files")).to_contain_text("No files yet.")


def test_ai_answer_streams_in_then_applies(page, app_url, sign_in, shot, axe):
    """The AI's answer grows in the side panel piece by piece; Apply saves it."""
    from documents.models import Document

    sign_in(page, "ai@example.com")
    doc_id = new_document(page, "Draft", "We went to Lyon and ate well.")
    page.get_by_role("button", name="AI").click()
    page.get_by_label("What should the AI do?").select_option("rewrite")
    expect(page.locator("#ai-usage")).to_contain_text("tokens used")
    page.evaluate(RECORD_CHANGES, "#ai-answer")
    page.get_by_role("button", name="Ask").click()
    expect(page.get_by_role("button", name="Apply to the document")).to_be_visible()
    lengths = [n for n in page.evaluate("() => window.__seen") if isinstance(n, int)]
    assert len(set(lengths)) >= 3, lengths  # it arrived in pieces, not at once
    answer = page.locator("#ai-answer").inner_text().strip()
    axe(page, context="in the AI panel")
    shot(page, "ai")

    page.get_by_role("button", name="Apply to the document").click()
    expect(page.locator("#notice")).to_have_text("The answer is in the document.")
    body = Document.objects.get(pk=doc_id).body
    assert answer.split()[0] in body
    assert "Lyon" not in body  # a rewrite replaces the text


def test_trash_and_restore(page, app_url, sign_in):
    """A document moved to the trash is listed there and can be restored."""
    sign_in(page, "trash@example.com")
    new_document(page, "Old idea", "meh")
    page.get_by_role("button", name="Move to trash").click()
    expect(page.locator("#list-title")).to_have_text("My documents")
    expect(page.locator("#documents")).not_to_contain_text("Old idea")

    page.get_by_role("link", name="Trash").click()
    expect(page.locator("#documents")).to_contain_text("Old idea")
    page.get_by_role("button", name="Restore").click()
    expect(page.locator("#notice")).to_contain_text("is back in your documents")
    page.get_by_role("link", name="My documents").click()
    expect(page.locator("#documents")).to_contain_text("Old idea")


def test_sign_out_and_sign_out_everywhere(browser, app_url, sign_in):
    """Sign out ends this browser; sign out everywhere ends the other ones too."""
    here = sign_in(browser.new_context().new_page(), "leave@example.com")
    there = sign_in(browser.new_context().new_page(), "leave@example.com")

    here.locator("#account-name").click()
    here.get_by_role("button", name="Sign out everywhere").click()
    expect(here).to_have_url(f"{app_url}/signin")
    there.get_by_role("button", name="New document").click()
    expect(there.locator("#notice")).to_contain_text("Your session has ended")

    again = sign_in(here, "leave@example.com")
    again.locator("#account-name").click()
    again.get_by_role("button", name="Sign out", exact=True).click()
    expect(again).to_have_url(f"{app_url}/signin")
    again.goto(f"{app_url}/")
    expect(again).to_have_url(f"{app_url}/signin")


def test_delete_account_after_confirmation(page, app_url, sign_in):
    """Deleting the account needs the email typed; then the account is gone."""
    from accounts.models import User

    sign_in(page, "gone@example.com")
    page.locator("#account-name").click()
    page.get_by_role("button", name="Delete account…").click()
    page.get_by_label("Type your email address to confirm").fill("gone@example.com")
    page.get_by_role("button", name="Delete my account").click()

    expect(page).to_have_url(f"{app_url}/signin")
    assert not User.objects.filter(email="gone@example.com").exists()

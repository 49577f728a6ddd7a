"""Two writers in one document at once: saves merged by the server, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from web.tests.browser.test_collaboration import new_document

pytestmark = pytest.mark.browser

BASE = "First paragraph.\n\nSecond paragraph.\n"


def shared_document(browser, app_url, sign_in, title: str):
    """Return (owner's page, editor's page, id): both open on one document."""
    from accounts.models import User
    from documents.models import DocumentAccess

    friend = sign_in(browser.new_context().new_page(), f"friend-{title}@example.com")
    owner = sign_in(browser.new_context().new_page(), f"owner-{title}@example.com")
    doc_id = new_document(owner, title, BASE)
    user = User.objects.get(email=f"friend-{title}@example.com")
    DocumentAccess.objects.create(
        document_id=doc_id, user=user, email=user.email, role="editor"
    )
    friend.goto(f"{app_url}/#/d/{doc_id}")
    expect(friend.get_by_label("Text (Markdown)")).to_have_value(BASE)
    return owner, friend, doc_id


def save_then_type(first, first_text: str, second, second_text: str, *, version: int):
    """``first`` saves ``first_text`` over ``version``; ``second``, still on it, types."""
    first.get_by_label("Text (Markdown)").fill(first_text)
    expect(first.locator("#save-state")).to_have_text(f"Saved · version {version + 1}")
    second.get_by_label("Text (Markdown)").fill(second_text)


def test_writers_in_different_paragraphs_both_save_without_a_conflict(
    browser, app_url, sign_in, shot
):
    """Each saves over the other's version; both edits end up in the document."""
    from documents.models import Document

    owner, friend, doc_id = shared_document(browser, app_url, sign_in, "paragraphs")
    version = Document.objects.get(pk=doc_id).version

    save_then_type(
        owner,
        "First paragraph, by the owner.\n\nSecond paragraph.\n",
        friend,
        "First paragraph.\n\nSecond paragraph, by a friend.\n",
        version=version,
    )

    both = "First paragraph, by the owner.\n\nSecond paragraph, by a friend.\n"
    expect(friend.locator("#save-state")).to_have_text(
        f"Saved · version {version + 2} · merged with another writer's changes"
    )
    expect(friend.get_by_label("Text (Markdown)")).to_have_value(both)
    expect(friend.locator("#conflict")).to_be_hidden()
    shot(friend, "merged")
    friend.get_by_role("button", name="History").click()
    expect(friend.locator(".revisions li").first).to_contain_text(
        f"merged (edits from version {version} joined with version {version + 1})"
    )

    # The owner, a version behind now, goes on typing in the first paragraph.
    owner.get_by_label("Text (Markdown)").fill(
        "First paragraph, by the owner, twice.\n\nSecond paragraph.\n"
    )
    expect(owner.locator("#save-state")).to_have_text(
        re.compile(rf"Saved · version {version + 3} · merged")
    )
    final = "First paragraph, by the owner, twice.\n\nSecond paragraph, by a friend.\n"
    expect(owner.get_by_label("Text (Markdown)")).to_have_value(final)
    expect(owner.locator("#conflict")).to_be_hidden()
    assert Document.objects.get(pk=doc_id).body == final
    assert owner.evaluate(f"() => localStorage.getItem('quire:draft:{doc_id}')") is None


def test_writers_in_the_same_paragraph_get_the_conflict_view(browser, app_url, sign_in):
    """Overlapping edits are not merged: the later writer sees both versions."""
    from documents.models import Document

    owner, friend, doc_id = shared_document(browser, app_url, sign_in, "overlap")
    version = Document.objects.get(pk=doc_id).version

    save_then_type(
        owner,
        "First paragraph.\n\nSecond paragraph, the owner's.\n",
        friend,
        "First paragraph.\n\nSecond paragraph, the friend's.\n",
        version=version,
    )

    expect(friend.locator("#conflict")).to_be_visible()
    expect(friend.locator("#conflict-theirs")).to_contain_text("the owner's")
    expect(friend.locator("#conflict-mine")).to_contain_text("the friend's")
    expect(friend.locator("#save-state")).to_have_text(
        "Not saved: someone else saved first"
    )
    assert Document.objects.get(pk=doc_id).body == (
        "First paragraph.\n\nSecond paragraph, the owner's.\n"
    )


def test_a_draft_left_behind_is_merged_when_the_document_is_opened_again(
    browser, app_url, sign_in
):
    """A reload with unsaved text from an older version merges it in."""
    from documents.models import Document

    owner, friend, doc_id = shared_document(browser, app_url, sign_in, "draft")
    version = Document.objects.get(pk=doc_id).version
    friend.context.set_offline(True)
    friend.get_by_label("Text (Markdown)").fill(
        "First paragraph.\n\nSecond paragraph, offline.\n"
    )
    expect(friend.locator("#save-state")).to_have_text("Not saved: kept on this device")
    owner.get_by_label("Text (Markdown)").fill(
        "First paragraph, online.\n\nSecond paragraph.\n"
    )
    expect(owner.locator("#save-state")).to_have_text(f"Saved · version {version + 1}")

    friend.context.set_offline(False)
    friend.reload()

    both = "First paragraph, online.\n\nSecond paragraph, offline.\n"
    expect(friend.get_by_label("Text (Markdown)")).to_have_value(both)
    expect(friend.locator("#save-state")).to_have_text(re.compile("merged"))
    assert Document.objects.get(pk=doc_id).body == both


def test_typing_while_a_merged_save_is_on_its_way_is_kept(browser, app_url, sign_in):
    """Text typed during a save that gets merged is replayed on the merged text."""
    from documents.models import Document

    owner, friend, doc_id = shared_document(browser, app_url, sign_in, "typing")
    held = []

    def hold_saves(route) -> None:  # noqa: ANN001
        if route.request.method == "PATCH" and not held:
            held.append(route)
        else:
            route.continue_()

    friend.route("**/api/v1/documents/*/", hold_saves)
    friend.get_by_label("Text (Markdown)").fill(
        "First paragraph.\n\nSecond paragraph, by a friend.\n"
    )
    expect(friend.locator("#save-state")).to_have_text("Saving…")
    owner.get_by_label("Text (Markdown)").fill(
        "First paragraph, by the owner.\n\nSecond paragraph.\n"
    )
    expect(owner.locator("#save-state")).to_have_text(re.compile(r"Saved · version"))
    friend.get_by_label("Text (Markdown)").press("Control+End")
    friend.keyboard.type("\nThird paragraph.")
    assert len(held) == 1
    held[0].continue_()

    final = (
        "First paragraph, by the owner.\n\nSecond paragraph, by a friend.\n"
        "\nThird paragraph."
    )
    expect(friend.get_by_label("Text (Markdown)")).to_have_value(final)
    expect(friend.locator("#save-state")).to_have_text(
        re.compile(r"^Saved · version \d+$")
    )
    assert friend.evaluate(
        "() => document.querySelector('#body').selectionStart"
    ) == len(final)
    assert Document.objects.get(pk=doc_id).body == final
    expect(friend.locator("#conflict")).to_be_hidden()

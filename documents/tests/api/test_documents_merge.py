"""PATCH with a stale If-Match and ``Prefer: merge``: merged three-way, or 412."""

from collections.abc import Callable

import pytest

from documents import merge
from documents.models import Document, DocumentRevision, DocumentVersion
from documents.services import document_update
from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db

BASE = "# Plan\n\nFirst paragraph.\n\nSecond paragraph.\n"
THEIRS = "# Plan\n\nFirst paragraph.\n\nSecond paragraph, theirs.\n"
OURS = "# Plan\n\nFirst paragraph, ours.\n\nSecond paragraph.\n"
BOTH = "# Plan\n\nFirst paragraph, ours.\n\nSecond paragraph, theirs.\n"


def url(document) -> str:
    return f"/api/v1/documents/{document.pk}/"


@pytest.fixture
def doc(owner):
    """Return a document at version 1 whose body has two paragraphs."""
    return DocumentFactory(owner=owner, title="Plan", body=BASE)


@pytest.fixture
def moved_on(doc, editor, client_for):
    """Have the editor save version 2 (the second paragraph changed)."""
    response = client_for(editor).patch(
        url(doc), {"body": THEIRS}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200
    return doc


def patch(client, doc, data, *, if_match='"1"', prefer="merge", **extra):
    headers = {"HTTP_IF_MATCH": if_match, **extra}
    if prefer is not None:
        headers["HTTP_PREFER"] = prefer
    return client.patch(url(doc), data, format="json", **headers)


def race_after_each_merge(
    monkeypatch, document, editor, next_body: Callable[[str, int], str | None]
) -> list[int]:
    """Have ``editor`` save right after each merge, before it is written.

    ``next_body(current body, race number)`` is what they save (``None``:
    nothing this time). Return the race numbers, one per merge.
    """
    real = merge.merge_document
    races: list[int] = []

    def merge_then_race(**kwargs):
        outcome = real(**kwargs)
        races.append(len(races) + 1)
        current = Document.objects.get(pk=document.pk)
        body = next_body(current.body, races[-1])
        if body is not None:
            current.role = "editor"
            document_update(
                document=current,
                user=editor,
                expected_version=current.version,
                body=body,
            )
        return outcome

    monkeypatch.setattr(merge, "merge_document", merge_then_race)
    return races


def test_merge_non_overlapping_stale_save_is_merged_as_a_new_version(
    moved_on, owner, editor, client_for
):
    """A stale save that changed other lines is merged: 200, both edits, version 3."""
    response = patch(client_for(owner), moved_on, {"body": OURS})

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["body"], body["version"]) == ("Plan", BOTH, 3)
    assert body["last_editor"]["id"] == str(owner.pk)
    assert response["ETag"] == '"3"'
    assert response["Merged-From"] == '"1", "2"'
    assert response["Preference-Applied"] == "merge"
    stored = Document.objects.get(pk=moved_on.pk)
    assert (stored.body, stored.version) == (BOTH, 3)


def test_merge_records_the_merge_in_a_revision_of_its_own(moved_on, owner, client_for):
    """The merged save is a new revision saying which versions it joined."""
    patch(client_for(owner), moved_on, {"body": OURS})

    response = client_for(owner).get(url(moved_on) + "revisions/")

    assert response.status_code == 200
    latest = response.json()["results"][0]
    assert latest["merged_from"] == {"base_version": 1, "current_version": 2}
    assert latest["author"]["id"] == str(owner.pk)
    assert [r["merged_from"] for r in response.json()["results"][1:]] == [None, None]
    revision = DocumentRevision.objects.get(document=moved_on, number=latest["number"])
    assert revision.body == BOTH


def test_merge_next_save_by_the_same_author_does_not_fold_into_the_merge(
    moved_on, owner, client_for
):
    """The merged revision keeps the merged text; the next autosave starts anew."""
    patch(client_for(owner), moved_on, {"body": OURS})

    response = patch(
        client_for(owner), moved_on, {"body": BOTH + "More.\n"}, if_match='"3"'
    )

    assert response.status_code == 200
    revisions = DocumentRevision.objects.filter(document=moved_on).order_by("number")
    assert [(r.body, r.merge_base_version) for r in revisions][-2:] == [
        (BOTH, 1),
        (BOTH + "More.\n", None),
    ]


def test_merge_without_prefer_stale_save_is_412_as_before(moved_on, owner, client_for):
    """Without the opt-in a stale If-Match is the plain 412; nothing is merged."""
    response = patch(client_for(owner), moved_on, {"body": OURS}, prefer=None)

    assert response.status_code == 412
    body = response.json()
    assert set(body) == {"detail", "code", "current"}
    assert body["code"] == "precondition_failed"
    assert body["current"]["body"] == THEIRS
    assert "Merged-From" not in response
    assert Document.objects.get(pk=moved_on.pk).version == 2


@pytest.mark.parametrize(
    "prefer", ["handling=lenient", "merged", "return=minimal", "", "no-merge"]
)
def test_merge_other_preferences_do_not_opt_in(moved_on, owner, client_for, prefer):
    """Only the ``merge`` preference opts in; others are ignored (412)."""
    response = patch(client_for(owner), moved_on, {"body": OURS}, prefer=prefer)

    assert response.status_code == 412
    assert "conflicts" not in response.json()


@pytest.mark.parametrize(
    "prefer",
    ["merge", "MERGE", "return=minimal, merge", "merge; strict", "merge=1", " merge "],
)
def test_merge_preference_spellings_opt_in(moved_on, owner, client_for, prefer):
    """``merge`` is found case-insensitively among several preferences (RFC 7240)."""
    response = patch(client_for(owner), moved_on, {"body": OURS}, prefer=prefer)

    assert response.status_code == 200
    assert response.json()["body"] == BOTH


def test_merge_overlapping_edit_is_412_with_current_and_hunks(
    moved_on, owner, client_for
):
    """The same paragraph changed both ways: 412, the current text and the hunk."""
    ours = "# Plan\n\nFirst paragraph.\n\nSecond paragraph, ours.\n"

    response = patch(client_for(owner), moved_on, {"body": ours})

    assert response.status_code == 412
    assert response["ETag"] == '"2"'
    assert "Merged-From" not in response
    body = response.json()
    assert body["code"] == "precondition_failed"
    assert body["detail"] == (
        "The document was changed by someone else, in the same places as this save."
    )
    assert body["current"]["body"] == THEIRS
    assert body["current"]["version"] == 2
    assert body["conflicts"] == {
        "base_version": 1,
        "title": None,
        "body": [
            {
                "base_line": 5,
                "base": "Second paragraph.\n",
                "theirs": "Second paragraph, theirs.\n",
                "ours": "Second paragraph, ours.\n",
            }
        ],
    }
    stored = Document.objects.get(pk=moved_on.pk)
    assert (stored.body, stored.version) == (THEIRS, 2)


def test_merge_title_changed_by_us_only_merges(moved_on, owner, client_for):
    """Our new title and their new body are both kept."""
    response = patch(client_for(owner), moved_on, {"title": "New plan"})

    assert response.status_code == 200
    assert (response.json()["title"], response.json()["body"]) == ("New plan", THEIRS)


def test_merge_title_changed_by_them_only_merges(doc, owner, editor, client_for):
    """Their new title and our new body are both kept."""
    patch(client_for(editor), doc, {"title": "Their title"}, prefer=None)

    response = patch(client_for(owner), doc, {"title": "Plan", "body": OURS})

    assert response.status_code == 200
    assert (response.json()["title"], response.json()["body"]) == ("Their title", OURS)


def test_merge_title_changed_the_same_way_merges(doc, owner, editor, client_for):
    """Both sides giving the same new title is agreement."""
    patch(client_for(editor), doc, {"title": "Same", "body": THEIRS}, prefer=None)

    response = patch(client_for(owner), doc, {"title": "Same", "body": OURS})

    assert response.status_code == 200
    assert (response.json()["title"], response.json()["body"]) == ("Same", BOTH)


def test_merge_title_changed_both_ways_is_412_title_conflict(
    doc, owner, editor, client_for
):
    """Two different new titles: 412 with the title's three values, nothing saved."""
    patch(client_for(editor), doc, {"title": "Theirs"}, prefer=None)

    response = patch(client_for(owner), doc, {"title": "Ours", "body": OURS})

    assert response.status_code == 412
    assert response.json()["conflicts"] == {
        "base_version": 1,
        "title": {"base": "Plan", "theirs": "Theirs", "ours": "Ours"},
        "body": [],
    }
    assert Document.objects.get(pk=doc.pk).title == "Theirs"


def test_merge_current_if_match_saves_without_merge_headers(doc, owner, client_for):
    """With a current If-Match, Prefer: merge changes nothing: a plain save."""
    response = patch(client_for(owner), doc, {"body": OURS})

    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert "Merged-From" not in response
    assert "Preference-Applied" not in response


def test_merge_if_match_star_overwrites_without_merging(moved_on, owner, client_for):
    """``If-Match: *`` keeps its meaning (write over anything), merge or not."""
    response = patch(client_for(owner), moved_on, {"body": OURS}, if_match="*")

    assert response.status_code == 200
    assert response.json()["body"] == OURS
    assert "Merged-From" not in response


@pytest.mark.parametrize("if_match", ['"9"', '"0"'])
def test_merge_unknown_version_is_plain_412(moved_on, owner, client_for, if_match):
    """A version that never existed has no base: the plain 412, nothing saved."""
    response = patch(client_for(owner), moved_on, {"body": OURS}, if_match=if_match)

    assert response.status_code == 412
    assert set(response.json()) == {"detail", "code", "current"}
    assert Document.objects.get(pk=moved_on.pk).version == 2


def test_merge_pruned_base_is_plain_412(doc, owner, client_for, settings):
    """Only the latest versions are kept as bases; an older one is the plain 412."""
    settings.DOCUMENTS_MERGE_BASE_VERSIONS = 2
    for version in (1, 2, 3):
        body = BASE + f"\nSaved at {version}.\n"
        patch(client_for(owner), doc, {"body": body}, if_match=f'"{version}"')
    assert sorted(
        DocumentVersion.objects.filter(document=doc).values_list("version", flat=True)
    ) == [3, 4]

    response = patch(client_for(owner), doc, {"title": "Late"}, if_match='"2"')

    assert response.status_code == 412
    assert "conflicts" not in response.json()
    assert Document.objects.get(pk=doc.pk).title == "Plan"


def test_merge_base_kept_for_the_latest_version_merges(
    doc, owner, client_for, settings
):
    """The oldest kept version still merges."""
    settings.DOCUMENTS_MERGE_BASE_VERSIONS = 2
    patch(client_for(owner), doc, {"body": THEIRS}, if_match='"1"')
    patch(client_for(owner), doc, {"body": THEIRS + "\nEnd.\n"}, if_match='"2"')

    response = patch(client_for(owner), doc, {"body": BOTH}, if_match='"2"')

    assert response.status_code == 200
    assert response.json()["body"] == BOTH + "\nEnd.\n"
    assert response["Merged-From"] == '"2", "3"'


def test_merge_other_users_document_is_404(moved_on, stranger, client_for):
    """A document the caller cannot see is 404, merge or not; nothing changes."""
    response = patch(client_for(stranger), moved_on, {"body": OURS})

    assert response.status_code == 404
    assert response.json() == {"detail": "Document not found.", "code": "not_found"}
    assert Document.objects.get(pk=moved_on.pk).body == THEIRS


def test_merge_viewer_is_403(moved_on, viewer, client_for):
    """A viewer may not write, merge or not; nothing changes."""
    response = patch(client_for(viewer), moved_on, {"body": OURS})

    assert response.status_code == 403
    assert response.json()["code"] == "read_only"
    assert Document.objects.get(pk=moved_on.pk).body == THEIRS


def test_merge_oversized_sent_body_is_413(moved_on, owner, client_for, settings):
    """A body over the limit is refused before any merge; nothing changes."""
    settings.DOCUMENTS_MAX_BODY_BYTES = len(OURS.encode()) - 1

    response = patch(client_for(owner), moved_on, {"body": OURS})

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert Document.objects.get(pk=moved_on.pk).version == 2


def test_merge_oversized_merged_body_is_413(moved_on, owner, client_for, settings):
    """Both sides fit the limit but their merge does not: 413, nothing saved."""
    settings.DOCUMENTS_MAX_BODY_BYTES = len(OURS.encode())

    response = patch(client_for(owner), moved_on, {"body": OURS})

    assert response.status_code == 413
    assert response.json() == {
        "detail": "The document is too large.",
        "code": "too_large",
    }
    assert Document.objects.get(pk=moved_on.pk).version == 2


def test_merge_trashed_document_is_404(moved_on, owner, client_for):
    """A trashed document is not written, merge or not (404 as for any write)."""
    client_for(owner).delete(url(moved_on))

    response = patch(client_for(owner), moved_on, {"body": OURS})

    assert response.status_code == 404


def test_merge_put_ignores_the_preference(moved_on, owner, client_for):
    """PUT replaces the whole document: a stale PUT stays 412 even with Prefer."""
    response = client_for(owner).put(
        url(moved_on),
        {"title": "Plan", "body": OURS},
        format="json",
        HTTP_IF_MATCH='"1"',
        HTTP_PREFER="merge",
    )

    assert response.status_code == 412
    assert "conflicts" not in response.json()


def test_merge_invalid_input_is_400_before_merging(moved_on, owner, client_for):
    """Bad input is refused as always, with the merge asked for or not."""
    response = patch(client_for(owner), moved_on, {"body": 3})

    assert response.status_code == 400
    assert response.json()["fields"] == {"body": ["Must be a string."]}


def test_merge_racing_writer_between_read_and_write_is_merged_too(
    moved_on, owner, editor, monkeypatch, client_for
):
    """A writer that saves while the merge runs is merged in as well, never lost."""
    race_after_each_merge(
        monkeypatch,
        moved_on,
        editor,
        lambda body, race: THEIRS + "\nRaced in.\n" if race == 1 else None,
    )

    response = patch(client_for(owner), moved_on, {"body": OURS})

    assert response.status_code == 200
    assert response.json()["body"] == BOTH + "\nRaced in.\n"
    assert response.json()["version"] == 4
    assert response["Merged-From"] == '"1", "3"'


def test_merge_writers_that_always_get_in_first_end_in_412(
    moved_on, owner, editor, monkeypatch, client_for
):
    """The merge is retried a few times, then answers 412; nothing is overwritten."""
    races = race_after_each_merge(
        monkeypatch, moved_on, editor, lambda body, race: body + f"\nRace {race}.\n"
    )

    response = patch(client_for(owner), moved_on, {"body": OURS})

    assert response.status_code == 412
    assert len(races) == merge.MERGE_ATTEMPTS
    stored = Document.objects.get(pk=moved_on.pk)
    assert stored.body.endswith(f"\nRace {merge.MERGE_ATTEMPTS}.\n")
    assert response.json()["current"]["body"] == stored.body
    assert "First paragraph, ours." not in stored.body


def test_merge_every_save_keeps_its_version_as_a_base(doc, owner, client_for):
    """Each write (create, save, merge, restore) keeps its version's text.

    Revision 1 folded the owner's next save in, so only the kept versions
    still hold the text of version 1.
    """
    patch(client_for(owner), doc, {"body": THEIRS}, prefer=None)
    patch(client_for(owner), doc, {"body": OURS})
    client_for(owner).post(url(doc) + "revisions/1/restore/")

    kept = dict(
        DocumentVersion.objects.filter(document=doc).values_list("version", "body")
    )

    assert kept == {1: BASE, 2: THEIRS, 3: BOTH, 4: THEIRS}

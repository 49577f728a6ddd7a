from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import pytest

from accounts.tests.factories import UserFactory
from documents.tests.factories import DocumentAccessFactory, DocumentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/documents/"


def titles(response) -> list[str]:
    return [item["title"] for item in response.json()["results"]]


def test_document_search_only_finds_visible_documents(user, client_for):
    """q= searches the caller's own and shared documents, never others'."""
    DocumentFactory(owner=user, title="Mine", body="the zebra crossing")
    shared = DocumentFactory(title="Shared", body="a zebra in the zoo")
    DocumentAccessFactory(document=shared, user=user)
    DocumentFactory(title="Hidden", body="zebra zebra zebra")
    DocumentFactory(owner=user, title="Other", body="no stripes here")

    response = client_for(user).get(URL, {"q": "zebra"})

    assert response.status_code == 200
    assert sorted(titles(response)) == ["Mine", "Shared"]


def test_document_search_skips_trash_unless_scope_trash(user, client_for):
    """Trashed documents only match under scope=trash."""
    DocumentFactory(owner=user, title="Gone", body="walrus", trashed_at=timezone.now())

    assert titles(client_for(user).get(URL, {"q": "walrus"})) == []
    assert titles(client_for(user).get(URL, {"q": "walrus", "scope": "trash"})) == [
        "Gone"
    ]


def test_document_search_matches_title(user, client_for):
    """Words in the title match."""
    DocumentFactory(owner=user, title="Quarterly budget", body="numbers")

    assert titles(client_for(user).get(URL, {"q": "budget"})) == ["Quarterly budget"]


def test_document_search_requires_every_word(user, client_for):
    """All words of the query must appear."""
    DocumentFactory(owner=user, title="A", body="apple banana")
    DocumentFactory(owner=user, title="B", body="apple cherry")

    assert titles(client_for(user).get(URL, {"q": "apple banana"})) == ["A"]


def test_document_search_snippet_marks_matches_and_escapes_html(user, client_for):
    """The snippet highlights hits in <mark> and escapes the document's own HTML."""
    DocumentFactory(
        owner=user, title="T", body="<script>x</script> the lighthouse keeper"
    )

    item = client_for(user).get(URL, {"q": "lighthouse"}).json()["results"][0]

    assert "<mark>lighthouse</mark>" in item["snippet"]
    assert "<script>" not in item["snippet"]
    assert "&lt;script&gt;" in item["snippet"] or "script" not in item["snippet"]
    assert isinstance(item["rank"], float)


def test_document_search_ranks_title_hits_first(user, client_for):
    """A title match ranks above a body-only match."""
    DocumentFactory(owner=user, title="Notes", body="something about owls")
    DocumentFactory(owner=user, title="Owls", body="birds of the night")

    assert titles(client_for(user).get(URL, {"q": "owls"})) == ["Owls", "Notes"]


@pytest.mark.postgresql  # stemming is a full-text feature
def test_document_search_uses_stemming_on_postgresql(user, client_for):
    """On PostgreSQL 'running' finds 'runs' (english stemming)."""
    DocumentFactory(owner=user, title="T", body="she runs every morning")

    assert titles(client_for(user).get(URL, {"q": "run"})) == ["T"]


def test_document_search_pages_with_cursor(user, client_for):
    """Search results page with a cursor and never repeat."""
    for n in range(5):
        DocumentFactory(owner=user, title=f"d{n}", body="common word")
    client = client_for(user)

    first = client.get(URL, {"q": "common", "page_size": 3}).json()
    second = client.get(
        URL, {"q": "common", "page_size": 3, "cursor": first["next_cursor"]}
    ).json()

    seen = [r["id"] for r in first["results"] + second["results"]]
    assert len(seen) == len(set(seen)) == 5
    assert second["next_cursor"] is None


def test_document_search_cursor_for_other_query_returns_400(user, client_for):
    """A search cursor is tied to its query."""
    for n in range(3):
        DocumentFactory(owner=user, title=f"d{n}", body="common word")
    cursor = (
        client_for(user).get(URL, {"q": "common", "page_size": 1}).json()["next_cursor"]
    )

    response = client_for(user).get(URL, {"q": "word", "cursor": cursor})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


def test_document_search_query_too_long_returns_400(user, client_for):
    """Queries are bounded."""
    response = client_for(user).get(URL, {"q": "x" * 201})

    assert response.status_code == 400
    assert "q" in response.json()["fields"]


def test_document_search_punctuation_only_returns_empty(user, client_for):
    """A query with no words finds nothing rather than failing."""
    DocumentFactory(owner=user, body="text")

    response = client_for(user).get(URL, {"q": "&&& !!!"})

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_document_search_sees_updates(user, client_for):
    """A document is found by its new words right after an edit."""
    document = DocumentFactory(owner=user, title="T", body="old words")
    client_for(user).patch(
        f"/api/v1/documents/{document.pk}/",
        {"body": "brand new vocabulary"},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert titles(client_for(user).get(URL, {"q": "vocabulary"})) == ["T"]
    assert titles(client_for(user).get(URL, {"q": "old"})) == []


def test_document_search_stranger_shares_nothing(client_for):
    """A user with no documents finds nothing."""
    DocumentFactory(body="secret plans")

    assert titles(client_for(UserFactory()).get(URL, {"q": "secret"})) == []


@pytest.mark.postgresql  # the fallback only ranks title hits first
def test_document_search_ranks_more_frequent_matches_higher(user, client_for):
    """Among body-only matches, more occurrences rank higher (PostgreSQL)."""
    DocumentFactory(owner=user, title="Once", body="a heron and other birds")
    DocumentFactory(owner=user, title="Thrice", body="heron heron heron by the lake")

    response = client_for(user).get(URL, {"q": "heron"})

    assert titles(response) == ["Thrice", "Once"]
    ranks = [item["rank"] for item in response.json()["results"]]
    assert ranks[0] > ranks[1]


def test_document_search_merges_owned_and_shared_by_rank(user, client_for):
    """A shared title hit ranks above an owned body-only hit, and vice versa."""
    DocumentFactory(owner=user, title="Mine", body="the osprey nests here")
    shared = DocumentFactory(title="Osprey", body="fish hawk")
    DocumentAccessFactory(document=shared, user=user)
    DocumentFactory(owner=user, title="Osprey diary", body="osprey again")
    other = DocumentFactory(title="Theirs", body="an osprey flew by")
    DocumentAccessFactory(document=other, user=user)

    found = titles(client_for(user).get(URL, {"q": "osprey"}))

    assert found[:2] == ["Osprey diary", "Osprey"]
    assert sorted(found[2:]) == ["Mine", "Theirs"]


def test_document_search_every_page_has_snippets(user, client_for):
    """Snippets are built for the rows of later pages too, not only the first."""
    for n in range(5):
        DocumentFactory(owner=user, title=f"d{n}", body=f"part {n} of the puffin saga")
    shared = DocumentFactory(title="s", body="a puffin shared with me")
    DocumentAccessFactory(document=shared, user=user)
    client = client_for(user)

    first = client.get(URL, {"q": "puffin", "page_size": 4}).json()
    second = client.get(
        URL, {"q": "puffin", "page_size": 4, "cursor": first["next_cursor"]}
    ).json()

    items = first["results"] + second["results"]
    assert len(items) == 6
    assert all("<mark>puffin</mark>" in item["snippet"] for item in items)


def test_document_search_snippet_belongs_to_its_document(user, client_for):
    """Each hit carries the snippet of its own body."""
    DocumentFactory(owner=user, title="Red", body="kite over the redwood forest")
    DocumentFactory(owner=user, title="Black", body="kite over the blackthorn hedge")

    results = client_for(user).get(URL, {"q": "kite"}).json()["results"]

    by_title = {item["title"]: item["snippet"] for item in results}
    assert "redwood" in by_title["Red"]
    assert "blackthorn" not in by_title["Red"]
    assert "blackthorn" in by_title["Black"]
    assert "redwood" not in by_title["Black"]


def test_document_search_query_count_does_not_grow_with_page_size(user, client_for):
    """A search page of 1 hit and one of 20 hits cost the same number of queries."""
    client = client_for(user)
    DocumentFactory(owner=user, body="gannet")
    with CaptureQueriesContext(connection) as small:
        one = client.get(URL, {"q": "gannet", "page_size": 20}).json()
    for _ in range(24):
        DocumentFactory(owner=user, body="gannet colony")
    for _ in range(3):
        DocumentAccessFactory(document=DocumentFactory(body="gannet"), user=user)
    with CaptureQueriesContext(connection) as large:
        twenty = client.get(URL, {"q": "gannet", "page_size": 20}).json()

    assert len(one["results"]) == 1
    assert len(twenty["results"]) == 20
    assert len(large.captured_queries) == len(small.captured_queries)


def test_document_search_finds_long_documents(user, client_for):
    """A body whose search vector cannot fit in a row is still saved and found."""
    # ~140 kB of distinct words: a search vector far over the 8 kB page.
    words = " ".join(f"w{n}x{n * 7919 % 100_003}" for n in range(12_000))
    response = client_for(user).post(
        URL, {"title": "Long", "body": f"albatross {words}"}, format="json"
    )
    assert response.status_code == 201

    found = client_for(user).get(URL, {"q": "albatross"}).json()["results"]

    assert [item["title"] for item in found] == ["Long"]
    assert "<mark>albatross</mark>" in found[0]["snippet"]

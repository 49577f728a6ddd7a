from datetime import timedelta

from django.utils import timezone

import pytest

from accounts.tests.factories import UserFactory
from documents.models import Document
from documents.tests.factories import DocumentAccessFactory, DocumentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/documents/"


def ids(response) -> list[str]:
    return [item["id"] for item in response.json()["results"]]


def _aged(owner, title: str, minutes_ago: int):
    document = DocumentFactory(owner=owner, title=title)
    Document.objects.filter(pk=document.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return document


def test_document_list_shows_owned_and_shared_with_roles(user, client_for):
    """The default list holds owned and shared documents, each with the role."""
    _aged(user, "mine", 3)
    theirs = _aged(UserFactory(), "theirs", 1)
    DocumentAccessFactory(document=theirs, user=user, role="editor")
    DocumentAccessFactory(document=theirs, role="viewer")  # someone else's grant
    DocumentFactory()  # invisible

    response = client_for(user).get(URL)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["title"], r["role"]) for r in results] == [
        ("theirs", "editor"),
        ("mine", "owner"),
    ]
    assert "body" not in results[0]
    assert response.json()["next_cursor"] is None
    assert response.json()["next"] is None


@pytest.mark.parametrize(
    ("scope", "expected"), [("owned", ["mine"]), ("shared", ["theirs"])]
)
def test_document_list_scope_filters(user, client_for, scope, expected):
    """scope=owned and scope=shared split the list."""
    _aged(user, "mine", 3)
    theirs = _aged(UserFactory(), "theirs", 1)
    DocumentAccessFactory(document=theirs, user=user, role="viewer")

    response = client_for(user).get(URL, {"scope": scope})

    assert [r["title"] for r in response.json()["results"]] == expected


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("title", ["alpha", "Beta", "gamma"]),
        ("-title", ["gamma", "Beta", "alpha"]),
        ("updated_at", ["gamma", "alpha", "Beta"]),
        ("-updated_at", ["Beta", "alpha", "gamma"]),
    ],
)
def test_document_list_ordering(user, client_for, ordering, expected):
    """ordering sorts by title (case-insensitive) or update time."""
    _aged(user, "gamma", 30)
    _aged(user, "alpha", 20)
    shared = _aged(UserFactory(), "Beta", 10)
    DocumentAccessFactory(document=shared, user=user)

    response = client_for(user).get(URL, {"ordering": ordering})

    assert [r["title"] for r in response.json()["results"]] == expected


@pytest.mark.parametrize("ordering", ["-updated_at", "title"])
def test_document_list_pages_are_stable_while_rows_are_inserted(
    user, client_for, ordering
):
    """Walking pages while new documents appear neither repeats nor skips rows."""
    existing = [_aged(user, f"doc {n:02}", 100 + n) for n in range(7)]
    for n in range(3):
        shared = _aged(UserFactory(), f"shared {n}", 50 + n)
        DocumentAccessFactory(document=shared, user=user)
        existing.append(shared)
    client = client_for(user)
    seen: list[str] = []
    response = client.get(URL, {"page_size": 3, "ordering": ordering})
    while True:
        seen += ids(response)
        DocumentFactory(owner=user, title="aaa new")  # lands on an earlier page
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
        response = client.get(
            URL, {"page_size": 3, "ordering": ordering, "cursor": cursor}
        )

    assert len(seen) == len(set(seen))
    assert {str(d.pk) for d in existing} <= set(seen)


def test_document_list_next_link_keeps_parameters(user, client_for):
    """``next`` is a full URL carrying the filters and the cursor."""
    for n in range(3):
        _aged(user, f"d{n}", n)

    response = client_for(user).get(URL, {"page_size": 2, "scope": "owned"})

    next_url = response.json()["next"]
    assert next_url.startswith("http://testserver/api/v1/documents/?")
    assert "scope=owned" in next_url
    assert "cursor=" in next_url
    follow = client_for(user).get(next_url)
    assert [r["title"] for r in follow.json()["results"]] == ["d2"]


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "bm90anNvbg",  # "notjson"
        "WzFd",  # [1]
        "eyJzIjoiIiwibyI6Ii11cGRhdGVkX2F0IiwidiI6InllcyIsImlkIjoibm8ifQ",
    ],
)
def test_document_list_bad_cursor_returns_400(user, client_for, cursor):
    """Forged or garbled cursors are a 400 ``invalid_cursor``."""
    response = client_for(user).get(URL, {"cursor": cursor})

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid cursor.", "code": "invalid_cursor"}


def test_document_list_cursor_from_other_ordering_returns_400(user, client_for):
    """A cursor is only valid with the ordering and scope it was made for."""
    for n in range(3):
        _aged(user, f"d{n}", n)
    cursor = client_for(user).get(URL, {"page_size": 1}).json()["next_cursor"]

    response = client_for(user).get(URL, {"cursor": cursor, "ordering": "title"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    "params",
    [
        {"scope": "everything"},
        {"ordering": "body"},
        {"page_size": "0"},
        {"page_size": "101"},
        {"page_size": "ten"},
    ],
)
def test_document_list_bad_parameters_return_400(user, client_for, params):
    """Unknown scopes, orderings and page sizes are 400s."""
    response = client_for(user).get(URL, params)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize("scope", ["", "owned", "shared", "trash"])
def test_document_list_query_count_does_not_grow_with_page_size(
    user, client_for, django_assert_num_queries, scope
):
    """A page of 1 and a page of 50 cost the same single query."""
    client = client_for(user)

    def fill(count: int) -> None:
        for _ in range(count):
            other = DocumentFactory()
            DocumentAccessFactory(document=other, user=user)
            DocumentFactory(owner=user)
            DocumentFactory(owner=user, trashed_at=timezone.now())

    fill(1)
    with django_assert_num_queries(1):
        small = client.get(URL, {"scope": scope, "page_size": 50})
    fill(49)
    with django_assert_num_queries(1):
        large = client.get(URL, {"scope": scope, "page_size": 50})

    assert len(small.json()["results"]) in (1, 2)
    assert len(large.json()["results"]) == 50


def test_document_list_with_real_bearer_token(user, bearer_client):
    """The list works through the real JWT authentication path."""
    DocumentFactory(owner=user, title="mine")

    response = bearer_client(user).get(URL)

    assert response.status_code == 200
    assert [r["title"] for r in response.json()["results"]] == ["mine"]


def test_document_list_without_token_returns_401(api_client):
    """No token, no documents: a 401 JSON error."""
    response = api_client.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("ordering", ["title", "-title", "updated_at", "-updated_at"])
def test_document_list_pages_walk_owned_and_shared_in_one_order(
    user, client_for, ordering
):
    """Small pages over interleaved owned and shared rows, ties included,
    give every visible document once, in the order of one full page."""
    titles = ["b", "A", "a", "C", "b", "B", "c", "a"]
    for n, title in enumerate(titles):
        owner = user if n % 2 else UserFactory()
        document = _aged(owner, title, minutes_ago=n % 3)  # equal times too
        if owner != user:
            DocumentAccessFactory(document=document, user=user)
    _aged(UserFactory(), "a", 1)  # not shared: never listed
    client = client_for(user)
    full = ids(client.get(URL, {"ordering": ordering, "page_size": 100}))
    walked: list[str] = []
    response = client.get(URL, {"ordering": ordering, "page_size": 3})
    while True:
        walked += ids(response)
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
        response = client.get(
            URL, {"ordering": ordering, "page_size": 3, "cursor": cursor}
        )

    assert len(full) == len(titles)
    assert walked == full
    listed = {i["id"]: i for i in client.get(URL, {"page_size": 100}).json()["results"]}
    key = (lambda i: i["title"].lower()) if "title" in ordering else None
    if key:
        in_order = [key(listed[i]) for i in full]
        assert in_order == sorted(in_order, reverse=ordering.startswith("-"))


def test_document_list_items_carry_their_own_owner(user, client_for):
    """Each item names its owner, also when a page mixes several owners."""
    other = UserFactory(display_name="Other")
    _aged(user, "mine 1", 5)
    for minutes, title in ((4, "theirs 1"), (2, "theirs 2")):
        DocumentAccessFactory(
            document=_aged(other, title, minutes), user=user, role="viewer"
        )
    _aged(user, "mine 2", 1)

    results = client_for(user).get(URL).json()["results"]

    me = {"id": str(user.pk), "email": user.email, "display_name": user.display_name}
    them = {"id": str(other.pk), "email": other.email, "display_name": "Other"}
    assert [(r["title"], r["owner"]) for r in results] == [
        ("mine 2", me),
        ("theirs 2", them),
        ("theirs 1", them),
        ("mine 1", me),
    ]


@pytest.mark.parametrize("ordering", ["-updated_at", "updated_at"])
def test_document_list_shared_pages_follow_update_time(user, client_for, ordering):
    """Shared documents page in update order, after grants were made and edited."""
    other = UserFactory()
    shared = [_aged(other, f"s{n}", 10 + n) for n in range(5)]
    for document in shared:
        DocumentAccessFactory(document=document, user=user)
    # Changed after the grants: s3 becomes the newest, s1 is trashed.
    Document.objects.filter(pk=shared[3].pk).update(updated_at=timezone.now())
    Document.objects.filter(pk=shared[1].pk).update(trashed_at=timezone.now())
    client = client_for(user)

    titles: list[str] = []
    params = {"scope": "shared", "ordering": ordering, "page_size": 2}
    response = client.get(URL, params)
    while True:
        titles += [r["title"] for r in response.json()["results"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
        response = client.get(URL, {**params, "cursor": cursor})

    newest_first = ["s3", "s0", "s2", "s4"]
    expected = newest_first if ordering == "-updated_at" else newest_first[::-1]
    assert titles == expected

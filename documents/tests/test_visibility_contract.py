"""One table of who sees what, run through every path that decides it.

The hand-written list statement (``documents.sql.list_page``), the ORM
branches that search uses (``documents.visibility.branch_queryset``), the
search page itself, and the one-document read (``document_get_for_user``)
must agree on the same scenarios: which documents each scope shows, with
which role, in which order. On PostgreSQL this compares the production SQL
with its ORM twin; on SQLite the same statement built for SQLite.
"""

import datetime as dt

from django.utils import timezone

import pytest

from accounts.tests.factories import UserFactory
from documents import selectors, sql
from documents.models import Document, Role
from documents.tests.factories import DocumentAccessFactory, DocumentFactory
from documents.visibility import SCOPE_BRANCHES, Scope, branch_queryset
from project.exceptions import NotFound

pytestmark = pytest.mark.django_db

WORD = "quokka"  # in every body, so search sees every visible document

# Each scenario: how the document relates to the reader -> the reader's
# role in each scope (absent: not shown there).
SCENARIOS: dict[str, dict[str, str]] = {
    "owned": {Scope.ALL: Role.OWNER, Scope.OWNED: Role.OWNER},
    "owned_trashed": {Scope.TRASH: Role.OWNER},
    "granted_viewer": {Scope.ALL: Role.VIEWER, Scope.SHARED: Role.VIEWER},
    "granted_editor": {Scope.ALL: Role.EDITOR, Scope.SHARED: Role.EDITOR},
    "granted_then_trashed": {},
    "invited_not_accepted": {},
    "stranger": {},
    "granted_to_another": {},
}


@pytest.fixture
def world() -> tuple:
    """Return the reader and their scenarios' documents, by scenario name."""
    reader, other = UserFactory(), UserFactory()
    base = timezone.now() - dt.timedelta(days=1)
    documents: dict[str, Document] = {}
    for n, name in enumerate(SCENARIOS):
        owner = reader if name.startswith("owned") else other
        # Distinct times and titles in an order unrelated to the table's.
        document = DocumentFactory(
            owner=owner, title=f"T{(n * 5) % 8} {name}", body=f"about a {WORD}"
        )
        Document.objects.filter(pk=document.pk).update(
            updated_at=base + dt.timedelta(minutes=(n * 3) % 8),
            trashed_at=timezone.now() if "trashed" in name else None,
        )
        documents[name] = document
    for name, role in (
        ("granted_viewer", "viewer"),
        ("granted_editor", "editor"),
        ("granted_then_trashed", "editor"),
    ):
        DocumentAccessFactory(document=documents[name], user=reader, role=role)
    DocumentAccessFactory(
        document=documents["invited_not_accepted"], user=None, email=reader.email
    )
    DocumentAccessFactory(document=documents["granted_to_another"], user=UserFactory())
    return reader, {
        name: Document.objects.get(pk=d.pk) for name, d in documents.items()
    }


def expected(scope: str, documents: dict) -> dict:
    return {
        documents[name].pk: str(roles[scope])
        for name, roles in SCENARIOS.items()
        if scope in roles
    }


def by_sql(reader, scope: str, key: str = "updated_at", desc: bool = True) -> list:
    rows = sql.list_page(
        user_id=reader.pk,
        branches=SCOPE_BRANCHES[scope],
        key=key,
        desc=desc,
        after=None,
        limit=100,
    )
    return [(row["id"], row["role"]) for row in rows]


def by_orm(reader, scope: str) -> dict:
    found: dict = {}
    for branch in SCOPE_BRANCHES[scope]:
        found.update(branch_queryset(branch, user=reader).values_list("pk", "role"))
    return found


@pytest.mark.parametrize("scope", Scope.CHOICES)
def test_visibility_sql_list_page_matches_the_table(world, scope):
    """The list statement shows each scope's documents with the table's roles."""
    reader, documents = world
    assert dict(by_sql(reader, scope)) == expected(scope, documents)


@pytest.mark.parametrize("scope", Scope.CHOICES)
def test_visibility_orm_branches_match_the_sql(world, scope):
    """The ORM branches (search's) give exactly what the list statement gives."""
    reader, documents = world
    assert by_orm(reader, scope) == dict(by_sql(reader, scope))


@pytest.mark.parametrize("scope", Scope.CHOICES)
def test_visibility_search_page_matches_the_list_page(world, scope):
    """A search every document matches shows the list page's documents and roles."""
    reader, documents = world
    page = selectors.document_list(user=reader, scope=scope, q=WORD, page_size=100)
    found = {row["id"]: row["role"] for row in page.items}
    assert found == dict(by_sql(reader, scope))


@pytest.mark.parametrize(
    ("ordering", "key", "desc"),
    [
        ("-updated_at", "updated_at", True),
        ("updated_at", "updated_at", False),
        ("title", "title_key", False),
        ("-title", "title_key", True),
    ],
)
def test_visibility_sql_order_matches_the_orm_order(world, ordering, key, desc):
    """The statement's order is the ORM's: the sort value, then the id."""
    reader, documents = world
    assert selectors.ORDERINGS[ordering] == (key, desc)
    visible = [d for d in documents.values() if d.pk in expected(Scope.ALL, documents)]

    def sort_value(document: Document):
        if key == "updated_at":
            return (document.updated_at, document.pk)
        return (document.title.lower(), document.pk)

    ordered = sorted(visible, key=sort_value, reverse=desc)
    assert [pk for pk, _ in by_sql(reader, Scope.ALL, key, desc)] == [
        d.pk for d in ordered
    ]


@pytest.mark.parametrize("include_trashed", [False, True])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_visibility_document_read_matches_the_list_scopes(world, name, include_trashed):
    """One document is readable, with that role, exactly when a list shows it."""
    reader, documents = world
    document = documents[name]
    scopes = [Scope.ALL, *([Scope.TRASH] if include_trashed else [])]
    listed = {}
    for scope in scopes:
        listed.update(dict(by_sql(reader, scope)))
    try:
        read = selectors.document_get_for_user(
            user=reader, document_id=document.pk, include_trashed=include_trashed
        )
    except NotFound:
        assert document.pk not in listed
    else:
        assert listed[document.pk] == read.role

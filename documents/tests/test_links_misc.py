"""Share links beyond the API: visibility rules, logs, admin, export and deletion."""

import datetime as dt
import json
import logging

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import pytest

from accounts.selectors import user_export
from accounts.services import user_delete
from accounts.tests.factories import UserFactory
from documents.models import Role, ShareLink
from documents.tests.factories import DocumentFactory, ShareLinkFactory
from documents.visibility import LinkAccess, link_role_for
from project.logging import JsonFormatter

pytestmark = pytest.mark.django_db

LINKS_ADMIN = "/admin/documents/sharelink/"


# --- documents.visibility.link_role_for -------------------------------------------

LIVE = {"is_live": True, "is_trashed": False}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            {"link_role": "viewer", "audience": "anyone", "is_signed_in": False},
            "viewer",
        ),
        (
            {"link_role": "editor", "audience": "anyone", "is_signed_in": False},
            "viewer",
        ),
        (
            {"link_role": "viewer", "audience": "signed_in", "is_signed_in": False},
            LinkAccess.SIGN_IN,
        ),
        (
            {"link_role": "editor", "audience": "signed_in", "is_signed_in": True},
            "editor",
        ),
        ({"link_role": "viewer", "audience": "anyone", "is_signed_in": True}, "viewer"),
        (
            {
                "link_role": "viewer",
                "audience": "anyone",
                "is_signed_in": True,
                "own_role": "editor",
            },
            "editor",
        ),
        (
            {
                "link_role": "editor",
                "audience": "anyone",
                "is_signed_in": True,
                "own_role": "viewer",
            },
            "editor",
        ),
        (
            {
                "link_role": "viewer",
                "audience": "signed_in",
                "is_signed_in": True,
                "own_role": Role.OWNER.value,
            },
            "owner",
        ),
    ],
)
def test_link_role_for_live_link_table(case, expected):
    """A live link's role: anonymous read only, the stronger of link and own role."""
    assert link_role_for(**LIVE, **case) == expected


@pytest.mark.parametrize(
    "state",
    [
        {"is_live": False, "is_trashed": False},
        {"is_live": True, "is_trashed": True},
        {"is_live": False, "is_trashed": True},
    ],
)
@pytest.mark.parametrize("signed_in", [True, False])
def test_link_role_for_dead_link_or_trashed_document_is_unseen(state, signed_in):
    """Revoked, expired or trashed: unseen, even for a caller with their own role."""
    assert (
        link_role_for(
            link_role="editor",
            audience="anyone",
            is_signed_in=signed_in,
            own_role="owner" if signed_in else None,
            **state,
        )
        == LinkAccess.UNSEEN
    )


# --- logs --------------------------------------------------------------------------


def test_link_secret_never_in_request_logs(client, capsys, caplog):
    """Opening a link through the API and the web page logs no part of the secret."""
    link = ShareLinkFactory()
    missing = ShareLinkFactory(revoked_at=timezone.now())
    caplog.set_level(logging.INFO)

    assert client.get(f"/api/v1/links/{link.secret}/").status_code == 200
    assert client.get(f"/s/{link.secret}").status_code == 200
    assert client.get(f"/api/v1/links/{missing.secret}/").status_code == 404
    assert client.get(f"/s/{missing.secret}").status_code == 404

    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    paths = [line["path"] for line in lines if line.get("logger") == "quire.request"]
    assert paths == [
        "/api/v1/links/[REDACTED]/",
        "/s/[REDACTED]",
        "/api/v1/links/[REDACTED]/",
        "/s/[REDACTED]",
    ]
    for secret in (link.secret, missing.secret):
        assert secret not in out
        assert secret[:16] not in out


@pytest.mark.parametrize(
    ("name", "args"),
    [
        (
            "gunicorn.access",
            ({"m": "GET", "U": "/s/SECRET", "s": "200", "D": 10, "h": "10.0.0.1"},),
        ),
        (
            "uvicorn.access",
            ("10.0.0.1:5", "GET", "/api/v1/links/SECRET/?a=1", "1.1", 200),
        ),
    ],
)
def test_link_secret_never_in_server_access_logs(name, args):
    """gunicorn's and uvicorn's access lines mask a link's secret in the path."""
    secret = "Q" * 43
    args = json.loads(json.dumps(args).replace("SECRET", secret))
    record = logging.LogRecord(name, logging.INFO, __file__, 1, "%s", tuple(args), None)
    if name == "gunicorn.access":
        record.args = args[0]

    line = JsonFormatter().format(record)

    assert secret not in line
    assert "[REDACTED]" in json.loads(line)["path"]


# --- admin ---------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    """Return a Django test client signed in as a superuser."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_lists_live_links_only_by_default(staff_client):
    """Staff see every live link; revoked and expired ones are behind a filter."""
    live = ShareLinkFactory(document__title="Live one")
    ShareLinkFactory(document__title="Revoked one", revoked_at=timezone.now())
    ShareLinkFactory(
        document__title="Expired one",
        expires_at=timezone.now() - dt.timedelta(seconds=1),
    )

    page = staff_client.get(LINKS_ADMIN).content.decode()

    assert "Live one" in page
    assert "Revoked one" not in page
    assert "Expired one" not in page
    assert live.secret not in page
    assert live.secret_hash not in page
    dead = staff_client.get(f"{LINKS_ADMIN}?state=dead").content.decode()
    assert "Revoked one" in dead
    assert "Expired one" in dead


def test_admin_changelist_query_count_is_constant(staff_client):
    """The link list costs the same for 1 and 20 links (no N+1)."""
    ShareLinkFactory()
    staff_client.get(LINKS_ADMIN)
    with CaptureQueriesContext(connection) as one:
        assert staff_client.get(LINKS_ADMIN).status_code == 200
    ShareLinkFactory.create_batch(19)
    with CaptureQueriesContext(connection) as many:
        assert staff_client.get(LINKS_ADMIN).status_code == 200

    assert len(many.captured_queries) == len(one.captured_queries)


def test_admin_revoke_action_revokes_at_once(staff_client, api_client):
    """The admin action revokes the chosen links through the service."""
    chosen, kept = ShareLinkFactory(), ShareLinkFactory()

    response = staff_client.post(
        LINKS_ADMIN,
        {"action": "revoke", "_selected_action": [str(chosen.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    assert "1 link(s) revoked." in response.content.decode()
    chosen.refresh_from_db()
    kept.refresh_from_db()
    assert chosen.revoked_at is not None
    assert kept.revoked_at is None
    assert api_client.get(f"/api/v1/links/{chosen.secret}/").status_code == 404
    assert api_client.get(f"/api/v1/links/{kept.secret}/").status_code == 200


def test_admin_links_cannot_be_added_or_edited(staff_client):
    """Links are made by owners only (the secret is shown once, to them)."""
    link = ShareLinkFactory()

    assert staff_client.get(f"{LINKS_ADMIN}add/").status_code == 403
    page = staff_client.get(f"{LINKS_ADMIN}{link.pk}/change/")
    assert page.status_code == 200
    assert b'name="role"' not in page.content


# --- account export and deletion --------------------------------------------------


def test_account_export_lists_links_without_secrets():
    """The export has each link the user made: no secret, no hash."""
    owner = UserFactory()
    document = DocumentFactory(owner=owner)
    revoked = timezone.now()
    link = ShareLinkFactory(document=document, role="editor", audience="signed_in")
    old = ShareLinkFactory(document=document, revoked_at=revoked)
    ShareLinkFactory()  # someone else's

    exported = user_export(user=owner)["share_links"]

    assert exported == [
        {
            "id": str(link.pk),
            "document_id": str(document.pk),
            "role": "editor",
            "audience": "signed_in",
            "expires_at": None,
            "revoked_at": None,
            "created_at": link.created_at.isoformat().replace("+00:00", "Z"),
        },
        {
            "id": str(old.pk),
            "document_id": str(document.pk),
            "role": "viewer",
            "audience": "anyone",
            "expires_at": None,
            "revoked_at": revoked.isoformat().replace("+00:00", "Z"),
            "created_at": old.created_at.isoformat().replace("+00:00", "Z"),
        },
    ]
    text = json.dumps(user_export(user=owner), default=str)
    for one in (link, old):
        assert one.secret not in text
        assert one.secret_hash not in text


def test_account_export_over_the_api_has_links(user, auth_client):
    """GET /api/v1/me/export carries the share_links key."""
    ShareLinkFactory(document=DocumentFactory(owner=user))

    response = auth_client.get("/api/v1/me/export")

    assert len(response.json()["share_links"]) == 1


def test_account_delete_removes_links():
    """Deleting an account deletes its links; other users' links stay."""
    owner = UserFactory()
    ShareLinkFactory(document=DocumentFactory(owner=owner))
    other = ShareLinkFactory()

    user_delete(user=owner)

    assert list(ShareLink.objects.all()) == [other]


def test_admin_account_delete_page_counts_links(staff_client):
    """The user admin's delete confirmation counts the links that go with the account."""
    owner = UserFactory()
    ShareLinkFactory.create_batch(2, document=DocumentFactory(owner=owner))

    response = staff_client.get(f"/admin/accounts/user/{owner.pk}/delete/")

    assert response.status_code == 200
    assert "2 share links" in response.content.decode()

"""Share links, as their owner makes, lists and revokes them."""

import datetime as dt
import uuid

from django.utils import timezone

import pytest

from documents.links.selectors import SECRET_PATTERN, secret_hash
from documents.models import ShareLink
from documents.tests.factories import DocumentFactory, ShareLinkFactory

pytestmark = pytest.mark.django_db


def url(doc, link=None) -> str:
    base = f"/api/v1/documents/{doc.pk}/links/"
    return f"{base}{link.pk}/" if link else base


def test_link_create_by_owner_returns_secret_once(doc, owner, client_for):
    """The owner gets 201 with the secret, its page and API URLs; only its hash is kept."""
    response = client_for(owner).post(
        url(doc), {"role": "viewer", "audience": "anyone"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    secret = body["secret"]
    link = ShareLink.objects.get()
    assert SECRET_PATTERN.fullmatch(secret)
    assert body == {
        "id": str(link.pk),
        "role": "viewer",
        "audience": "anyone",
        "expires_at": None,
        "created_at": body["created_at"],
        "secret": secret,
        "url": f"http://testserver/s/{secret}",
        "api_url": f"http://testserver/api/v1/links/{secret}/",
    }
    assert response["Location"] == f"http://testserver{url(doc, link)}"
    assert response["Cache-Control"] == "no-store"
    assert link.secret_hash == secret_hash(secret)
    stored = ShareLink.objects.filter(pk=link.pk).values().get()
    assert secret not in repr(stored)
    assert (link.document, link.created_by) == (doc, owner)


def test_link_create_secrets_differ_and_carry_256_bits(doc, owner, client_for):
    """Each link has its own secret: 43 base64url characters (32 random bytes)."""
    client = client_for(owner)
    secrets = {
        client.post(
            url(doc), {"role": "viewer", "audience": "anyone"}, format="json"
        ).json()["secret"]
        for _ in range(3)
    }

    assert len(secrets) == 3
    assert all(len(s) == 43 for s in secrets)


def test_link_create_with_expiry_keeps_it(doc, owner, client_for):
    """An expiry in the future is stored and returned."""
    expires = (timezone.now() + dt.timedelta(days=7)).replace(microsecond=0)

    response = client_for(owner).post(
        url(doc),
        {"role": "editor", "audience": "signed_in", "expires_at": expires.isoformat()},
        format="json",
    )

    assert response.status_code == 201
    assert ShareLink.objects.get().expires_at == expires
    assert response.json()["expires_at"] == expires.isoformat().replace("+00:00", "Z")


def test_link_create_expiry_in_the_past_refused(doc, owner, client_for):
    """An expiry that already passed is 400 invalid_expiry; nothing is created."""
    past = timezone.now() - dt.timedelta(minutes=1)

    response = client_for(owner).post(
        url(doc),
        {"role": "viewer", "audience": "anyone", "expires_at": past.isoformat()},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "The expiry must be in the future.",
        "code": "invalid_expiry",
    }
    assert not ShareLink.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"role": "owner", "audience": "anyone"}, "role"),
        ({"role": "viewer", "audience": "everyone"}, "audience"),
        ({"role": "viewer"}, "audience"),
        ({"role": "viewer", "audience": "anyone", "expires_at": "soon"}, "expires_at"),
        ({"role": "viewer", "audience": "anyone", "secret": "mine"}, "secret"),
    ],
)
def test_link_create_bad_input_refused(doc, owner, client_for, payload, field):
    """A bad role, audience or expiry, or an unknown field, is 400; nothing is created."""
    response = client_for(owner).post(url(doc), payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == [field]
    assert not ShareLink.objects.exists()


@pytest.mark.parametrize(
    ("role", "status", "code"),
    [
        ("editor", 403, "owner_only"),
        ("viewer", 403, "read_only"),
        ("stranger", 404, "not_found"),
    ],
)
def test_link_create_by_non_owner_refused(doc, as_role, client_for, role, status, code):
    """Only the owner makes links: collaborators get 403, strangers 404."""
    response = client_for(as_role(role)).post(
        url(doc), {"role": "viewer", "audience": "anyone"}, format="json"
    )

    assert response.status_code == status
    assert response.json()["code"] == code
    assert not ShareLink.objects.exists()


def test_link_create_anonymous_is_401(doc, api_client):
    """Without a token, creating a link is 401."""
    response = api_client.post(
        url(doc), {"role": "viewer", "audience": "anyone"}, format="json"
    )

    assert response.status_code == 401
    assert not ShareLink.objects.exists()


def test_link_create_on_trashed_document_is_404(doc, owner, client_for):
    """A trashed document takes no new links."""
    doc.trashed_at = timezone.now()
    doc.save(update_fields=["trashed_at"])

    response = client_for(owner).post(
        url(doc), {"role": "viewer", "audience": "anyone"}, format="json"
    )

    assert response.status_code == 404
    assert not ShareLink.objects.exists()


def test_link_create_past_the_limit_is_409(doc, owner, client_for, monkeypatch):
    """A document with the maximum of live links takes no more (409 too_many_links)."""
    monkeypatch.setattr("documents.links.services.MAX_LIVE_LINKS", 2)
    ShareLinkFactory.create_batch(2, document=doc)
    ShareLinkFactory(document=doc, revoked_at=timezone.now())

    response = client_for(owner).post(
        url(doc), {"role": "viewer", "audience": "anyone"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "too_many_links"
    assert ShareLink.objects.count() == 3


def test_link_list_shows_live_links_without_secrets(doc, owner, client_for):
    """The owner's list has live links only, oldest first, and no secret or hash."""
    first = ShareLinkFactory(document=doc)
    second = ShareLinkFactory(document=doc, role="editor", audience="signed_in")
    ShareLinkFactory(document=doc, revoked_at=timezone.now())
    ShareLinkFactory(document=doc, expires_at=timezone.now() - dt.timedelta(seconds=1))
    ShareLinkFactory()  # another document's

    response = client_for(owner).get(url(doc))

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == [str(first.pk), str(second.pk)]
    assert set(results[0]) == {"id", "role", "audience", "expires_at", "created_at"}
    for link in (first, second):
        assert link.secret not in response.content.decode()
        assert link.secret_hash not in response.content.decode()


@pytest.mark.parametrize(("role", "status"), [("editor", 403), ("stranger", 404)])
def test_link_list_by_non_owner_refused(doc, as_role, client_for, role, status):
    """Collaborators may not list links (403); strangers do not see the document."""
    ShareLinkFactory(document=doc)

    response = client_for(as_role(role)).get(url(doc))

    assert response.status_code == status


def test_access_list_carries_links_for_the_owner(doc, owner, client_for):
    """The document's access list lists its live links for the owner."""
    link = ShareLinkFactory(document=doc, role="editor")

    response = client_for(owner).get(f"/api/v1/documents/{doc.pk}/access/")

    assert [(x["id"], x["role"]) for x in response.json()["links"]] == [
        (str(link.pk), "editor")
    ]


def test_access_list_hides_links_from_collaborators(doc, editor, client_for):
    """A collaborator's access list shows no links."""
    ShareLinkFactory(document=doc)

    response = client_for(editor).get(f"/api/v1/documents/{doc.pk}/access/")

    assert response.status_code == 200
    assert response.json()["links"] == []


def test_link_revoke_by_owner_stops_it_at_once(doc, owner, client_for, api_client):
    """A revoked link answers 404 on the next request, and leaves the list."""
    link = ShareLinkFactory(document=doc)
    assert api_client.get(f"/api/v1/links/{link.secret}/").status_code == 200

    response = client_for(owner).delete(url(doc, link))

    assert response.status_code == 204
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert api_client.get(f"/api/v1/links/{link.secret}/").status_code == 404
    assert client_for(owner).get(url(doc)).json()["results"] == []


def test_link_revoke_twice_keeps_the_first_time(doc, owner, client_for):
    """Revoking a revoked link is 204 and changes nothing."""
    when = timezone.now() - dt.timedelta(hours=1)
    link = ShareLinkFactory(document=doc, revoked_at=when)

    response = client_for(owner).delete(url(doc, link))

    assert response.status_code == 204
    link.refresh_from_db()
    assert link.revoked_at == when


@pytest.mark.parametrize(("role", "status"), [("editor", 403), ("stranger", 404)])
def test_link_revoke_by_non_owner_refused(doc, as_role, client_for, role, status):
    """Only the owner revokes; the link keeps working."""
    link = ShareLinkFactory(document=doc)

    response = client_for(as_role(role)).delete(url(doc, link))

    assert response.status_code == status
    link.refresh_from_db()
    assert link.revoked_at is None


def test_link_revoke_through_another_document_is_404(owner, client_for):
    """A link id under a document it does not belong to is 404, even for an owner."""
    mine = DocumentFactory(owner=owner)
    theirs = ShareLinkFactory()

    response = client_for(owner).delete(url(mine, theirs))

    assert response.status_code == 404
    assert response.json() == {"detail": "Link not found.", "code": "not_found"}
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


@pytest.mark.parametrize("link_id", ["nope", str(uuid.uuid4())])
def test_link_revoke_unknown_id_is_404(doc, owner, client_for, link_id):
    """A malformed or unknown link id is 404."""
    response = client_for(owner).delete(f"/api/v1/documents/{doc.pk}/links/{link_id}/")

    assert response.status_code == 404

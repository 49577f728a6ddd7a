"""Opening a document by its share link, and editing through an editor link."""

import datetime as dt
import secrets
import uuid

from django.utils import timezone

import pytest

from accounts.services import user_delete
from accounts.tests.factories import UserFactory
from documents.models import DocumentAccess, DocumentRevision
from documents.tests.factories import DocumentFactory, ShareLinkFactory
from project.throttling import local_tallies

pytestmark = pytest.mark.django_db

LINKED_KEYS = {
    "id",
    "title",
    "body",
    "version",
    "role",
    "created_at",
    "updated_at",
    "link",
}


def open_url(secret: str) -> str:
    return f"/api/v1/links/{secret}/"


@pytest.fixture
def missing_document_body(stranger, client_for) -> dict:
    """Return what the API answers for a document that does not exist."""
    response = client_for(stranger).get(f"/api/v1/documents/{uuid.uuid4()}/")
    assert response.status_code == 404
    return response.json()


def test_link_open_anonymous_reads_document(doc, api_client):
    """Anyone with an `anyone` link reads the document, as a viewer."""
    link = ShareLinkFactory(document=doc)

    response = api_client.get(open_url(link.secret))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == LINKED_KEYS
    assert (body["id"], body["title"], body["body"], body["role"]) == (
        str(doc.pk),
        "Plan",
        "First draft.",
        "viewer",
    )
    assert body["link"] == {"role": "viewer", "audience": "anyone", "expires_at": None}
    assert response["ETag"] == f'"{doc.version}"'
    assert response["Cache-Control"] == "no-store"


def test_link_open_anonymous_on_editor_link_only_reads(doc, api_client):
    """An editor link gives an anonymous visitor read access only."""
    link = ShareLinkFactory(document=doc, role="editor")

    response = api_client.get(open_url(link.secret))

    assert response.json()["role"] == "viewer"


def test_link_open_names_no_one(doc, owner, editor, api_client):
    """Nothing about the owner or other users is in the answer."""
    owner.display_name = "Olivia Owner"
    owner.save(update_fields=["display_name"])
    doc.last_editor = editor
    doc.save(update_fields=["last_editor"])
    DocumentAccess.objects.create(
        document=doc, email="pending@example.com", role="viewer"
    )
    link = ShareLinkFactory(document=doc)

    text = api_client.get(open_url(link.secret)).content.decode()

    for private in (
        owner.email,
        "Olivia Owner",
        str(owner.pk),
        editor.email,
        str(editor.pk),
        "pending@example.com",
        link.secret_hash,
    ):
        assert private not in text


def test_link_open_signed_in_link_anonymous_is_401(doc, api_client):
    """A link for signed-in users asks an anonymous caller to sign in (401)."""
    link = ShareLinkFactory(document=doc, audience="signed_in")

    response = api_client.get(open_url(link.secret))

    assert response.status_code == 401
    assert response.json() == {
        "detail": "Sign in to open this document.",
        "code": "not_authenticated",
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_link_open_signed_in_link_any_user_reads(doc, stranger, bearer_client):
    """Any signed-in user (real bearer token) opens a `signed_in` link."""
    link = ShareLinkFactory(document=doc, audience="signed_in")

    response = bearer_client(stranger).get(open_url(link.secret))

    assert response.status_code == 200
    assert response.json()["role"] == "viewer"


def test_link_open_signed_in_user_gets_link_role(doc, stranger, client_for):
    """A signed-in user gets the link's role through it."""
    link = ShareLinkFactory(document=doc, role="editor")

    assert client_for(stranger).get(open_url(link.secret)).json()["role"] == "editor"


@pytest.mark.parametrize(("who", "role"), [("owner", "owner"), ("editor", "editor")])
def test_link_open_own_stronger_role_wins(doc, as_role, client_for, who, role):
    """A caller whose own access is stronger than the link's keeps it."""
    link = ShareLinkFactory(document=doc, role="viewer")

    assert client_for(as_role(who)).get(open_url(link.secret)).json()["role"] == role


def test_link_open_records_nothing(doc, stranger, client_for):
    """Opening an editor link grants nothing outside the link itself."""
    link = ShareLinkFactory(document=doc, role="editor")
    client = client_for(stranger)

    assert client.get(open_url(link.secret)).status_code == 200

    assert not DocumentAccess.objects.filter(user=stranger).exists()
    assert client.get(f"/api/v1/documents/{doc.pk}/").status_code == 404
    listed = client.get("/api/v1/documents/").json()["results"]
    assert listed == []


@pytest.mark.parametrize(
    "state",
    [
        {"revoked_at": dt.timedelta(0)},
        {"expires_at": -dt.timedelta(seconds=1)},
    ],
    ids=["revoked", "expired"],
)
def test_link_open_dead_link_is_404_like_a_missing_document(
    doc, api_client, missing_document_body, state
):
    """A revoked or expired link answers exactly as a missing document does."""
    ((field, delta),) = state.items()
    link = ShareLinkFactory(document=doc, **{field: timezone.now() + delta})

    response = api_client.get(open_url(link.secret))

    assert response.status_code == 404
    assert response.json() == missing_document_body


def test_link_open_not_yet_expired_works(doc, api_client):
    """A link before its expiry opens."""
    link = ShareLinkFactory(
        document=doc, expires_at=timezone.now() + dt.timedelta(minutes=5)
    )

    assert api_client.get(open_url(link.secret)).status_code == 200


@pytest.mark.parametrize(
    "secret",
    [
        secrets.token_urlsafe(32),  # the right shape, never issued
        "short",
        "a" * 42,
        "a" * 44,
        "x" * 500,
        "%00" + "a" * 40,
        "a.b" + "c" * 40,
    ],
    ids=["forged", "short", "42", "44", "long", "nul", "dot"],
)
def test_link_open_forged_or_malformed_secret_is_404(
    doc, api_client, missing_document_body, secret
):
    """A secret that was never issued, or is not one, answers as a missing document."""
    ShareLinkFactory(document=doc)

    response = api_client.get(open_url(secret))

    assert response.status_code == 404
    assert response.json() == missing_document_body


def test_link_open_case_changed_secret_is_404(doc, api_client):
    """The secret is matched exactly (a changed letter is another secret)."""
    link = ShareLinkFactory(document=doc)
    changed = link.secret.swapcase()
    if changed == link.secret:  # pragma: no cover - digits and -_ only
        pytest.skip("no letters to change")

    assert api_client.get(open_url(changed)).status_code == 404


def test_link_open_trashed_document_is_404(doc, api_client, missing_document_body):
    """A link to a trashed document answers as a missing document."""
    link = ShareLinkFactory(document=doc)
    doc.trashed_at = timezone.now()
    doc.save(update_fields=["trashed_at"])

    response = api_client.get(open_url(link.secret))

    assert response.status_code == 404
    assert response.json() == missing_document_body


def test_link_open_deleted_owner_is_404(doc, owner, api_client, missing_document_body):
    """When the owner deletes their account, their links answer 404."""
    link = ShareLinkFactory(document=doc)

    user_delete(user=owner)

    response = api_client.get(open_url(link.secret))
    assert response.status_code == 404
    assert response.json() == missing_document_body


def test_link_open_deactivated_owner_is_404(doc, owner, api_client):
    """A deactivated owner's links stop working."""
    link = ShareLinkFactory(document=doc)
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    assert api_client.get(open_url(link.secret)).status_code == 404


def test_link_open_bad_token_is_401_not_anonymous(doc, api_client):
    """A request with an invalid token is refused, not served as anonymous."""
    link = ShareLinkFactory(document=doc)
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert api_client.get(open_url(link.secret)).status_code == 401


# --- editing through a link ----------------------------------------------------


def patch(client, secret, data, version=1):
    headers = {} if version is None else {"HTTP_IF_MATCH": f'"{version}"'}
    return client.patch(open_url(secret), data, format="json", **headers)


def test_link_patch_signed_in_editor_saves(doc, stranger, client_for):
    """A signed-in user edits through an editor link; the history names them."""
    link = ShareLinkFactory(document=doc, role="editor")

    response = patch(client_for(stranger), link.secret, {"body": "Second draft."})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == LINKED_KEYS
    assert (body["body"], body["version"], body["role"]) == (
        "Second draft.",
        2,
        "editor",
    )
    assert response["ETag"] == '"2"'
    doc.refresh_from_db()
    assert (doc.body, doc.last_editor) == ("Second draft.", stranger)
    latest = DocumentRevision.objects.filter(document=doc).order_by("-number").first()
    assert (latest.number, latest.author, latest.body) == (2, stranger, "Second draft.")


def test_link_patch_through_viewer_link_is_403(doc, stranger, client_for):
    """A viewer link does not write: 403 read_only, nothing changes."""
    link = ShareLinkFactory(document=doc, role="viewer")

    response = patch(client_for(stranger), link.secret, {"body": "Vandalised."})

    assert response.status_code == 403
    assert response.json() == {
        "detail": "This link only lets you read the document.",
        "code": "read_only",
    }
    doc.refresh_from_db()
    assert (doc.body, doc.version) == ("First draft.", 1)


@pytest.mark.parametrize("audience", ["anyone", "signed_in"])
def test_link_patch_anonymous_is_401(doc, api_client, audience):
    """Editing through any link needs an account: 401, nothing changes."""
    link = ShareLinkFactory(document=doc, role="editor", audience=audience)

    response = patch(api_client, link.secret, {"body": "Anonymous edit."})

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    doc.refresh_from_db()
    assert doc.version == 1


def test_link_patch_without_if_match_is_428(doc, stranger, client_for):
    """A write through a link needs If-Match, as any write."""
    link = ShareLinkFactory(document=doc, role="editor")

    response = patch(client_for(stranger), link.secret, {"body": "x"}, version=None)

    assert response.status_code == 428
    doc.refresh_from_db()
    assert doc.version == 1


def test_link_patch_stale_is_412_with_current_naming_no_one(
    doc, owner, stranger, client_for
):
    """A stale write is 412 with the current document, in the link's shape."""
    link = ShareLinkFactory(document=doc, role="editor")
    client = client_for(stranger)
    assert patch(client, link.secret, {"body": "v2"}).status_code == 200

    response = patch(client, link.secret, {"body": "from v1"}, version=1)

    assert response.status_code == 412
    body = response.json()
    assert body["code"] == "precondition_failed"
    assert set(body["current"]) == LINKED_KEYS
    assert body["current"]["body"] == "v2"
    assert owner.email not in response.content.decode()
    assert response["ETag"] == '"2"'


@pytest.mark.parametrize(
    ("data", "field"), [({"body": 3}, "body"), ({"owner": "me"}, "owner")]
)
def test_link_patch_bad_input_is_400(doc, stranger, client_for, data, field):
    """Non-strings and unknown fields are refused; nothing changes."""
    link = ShareLinkFactory(document=doc, role="editor")

    response = patch(client_for(stranger), link.secret, data)

    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]
    doc.refresh_from_db()
    assert doc.version == 1


def test_link_patch_after_revoke_is_404(doc, stranger, client_for):
    """Revocation stops edits at once."""
    link = ShareLinkFactory(document=doc, role="editor")
    client = client_for(stranger)
    assert client.get(open_url(link.secret)).status_code == 200
    link.revoked_at = timezone.now()
    link.save(update_fields=["revoked_at"])

    response = patch(client, link.secret, {"body": "late"})

    assert response.status_code == 404
    doc.refresh_from_db()
    assert doc.version == 1


# --- throttling ------------------------------------------------------------------


@pytest.fixture
def link_rate(settings):
    """Allow 2 anonymous link reads per minute per IP, nothing else limited."""
    local_tallies.clear()
    rates = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates["links"] = "2/min"
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": rates,
    }
    yield
    local_tallies.clear()


def test_link_open_anonymous_throttled_per_ip(doc, api_client, link_rate):
    """Past the `links` rate an IP gets 429 with Retry-After; another IP does not."""
    link = ShareLinkFactory(document=doc)
    for _ in range(2):
        assert api_client.get(open_url(link.secret)).status_code == 200

    response = api_client.get(open_url(link.secret))

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1
    other = api_client.get(open_url(link.secret), REMOTE_ADDR="10.9.8.7")
    assert other.status_code == 200


def test_link_open_throttle_counts_forged_secrets_too(doc, api_client, link_rate):
    """Guessing secrets spends the same budget as opening real ones."""
    link = ShareLinkFactory(document=doc)
    for _ in range(2):
        assert api_client.get(open_url(secrets.token_urlsafe(32))).status_code == 404

    assert api_client.get(open_url(link.secret)).status_code == 429


def test_link_open_signed_in_not_spending_the_anonymous_budget(
    doc, stranger, client_for, link_rate
):
    """Signed-in callers (an editor's autosaves) are not held to the `links` rate."""
    link = ShareLinkFactory(document=doc)
    client = client_for(stranger)

    statuses = {client.get(open_url(link.secret)).status_code for _ in range(4)}

    assert statuses == {200}


def test_link_open_other_users_cannot_see_each_others_links(owner, client_for):
    """A link opens only its own document."""
    mine = ShareLinkFactory(document__owner=owner, document__title="Mine")
    theirs = ShareLinkFactory(document__title="Theirs")
    client = client_for(UserFactory())

    assert client.get(open_url(mine.secret)).json()["title"] == "Mine"
    assert client.get(open_url(theirs.secret)).json()["title"] == "Theirs"


# --- merging a stale save through a link -------------------------------------------

BASE = "# Plan\n\nFirst paragraph.\n\nSecond paragraph.\n"
THEIRS = "# Plan\n\nFirst paragraph.\n\nSecond paragraph, theirs.\n"
OURS = "# Plan\n\nFirst paragraph, ours.\n\nSecond paragraph.\n"
BOTH = "# Plan\n\nFirst paragraph, ours.\n\nSecond paragraph, theirs.\n"


@pytest.fixture
def moved_on(owner, client_for):
    """Return an editor link to a document whose owner saved version 2 over BASE."""
    document = DocumentFactory(owner=owner, title="Plan", body=BASE)
    response = client_for(owner).patch(
        f"/api/v1/documents/{document.pk}/",
        {"body": THEIRS},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200
    return ShareLinkFactory(document=document, role="editor")


def test_link_patch_prefer_merge_merges_a_stale_save(moved_on, stranger, client_for):
    """With Prefer: merge a stale save through a link is merged, as on the document."""
    response = client_for(stranger).patch(
        open_url(moved_on.secret),
        {"body": OURS},
        format="json",
        HTTP_IF_MATCH='"1"',
        HTTP_PREFER="merge",
    )

    assert response.status_code == 200
    assert (response.json()["body"], response.json()["version"]) == (BOTH, 3)
    assert response["Merged-From"] == '"1", "2"'
    assert response["Preference-Applied"] == "merge"


def test_link_patch_prefer_merge_overlap_is_412_with_conflicts(
    moved_on, owner, stranger, client_for
):
    """Overlapping changes answer 412 with the hunks and the current document, no one named."""
    response = client_for(stranger).patch(
        open_url(moved_on.secret),
        {"body": "# Plan\n\nFirst paragraph.\n\nSecond paragraph, ours.\n"},
        format="json",
        HTTP_IF_MATCH='"1"',
        HTTP_PREFER="merge",
    )

    assert response.status_code == 412
    body = response.json()
    assert body["current"]["body"] == THEIRS
    assert set(body["current"]) == LINKED_KEYS
    assert [h["theirs"] for h in body["conflicts"]["body"]] == [
        "Second paragraph, theirs.\n"
    ]
    assert owner.email not in response.content.decode()


def test_link_patch_stale_without_prefer_stays_strict(moved_on, stranger, client_for):
    """Without Prefer: merge a stale save through a link is 412, nothing merged."""
    response = client_for(stranger).patch(
        open_url(moved_on.secret), {"body": OURS}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 412
    assert "conflicts" not in response.json()
    moved_on.document.refresh_from_db()
    assert moved_on.document.version == 2

"""The share-link page /s/{secret}: read-only for visitors, the editor for editors."""

from django.utils import timezone

import pytest

from documents.tests.factories import (
    DocumentAccessFactory,
    DocumentFactory,
    ShareLinkFactory,
)
from project.throttling import local_tallies

pytestmark = pytest.mark.django_db


def test_shared_page_anonymous_sees_document_read_only(web_client):
    """An anonymous visitor gets the title and text, escaped, on a private page."""
    link = ShareLinkFactory(
        document__title="Plan <b>", document__body="# Hi\n\n<script>alert(1)</script>"
    )

    response = web_client.get(f"/s/{link.secret}")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Plan &lt;b&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert 'id="shared-source"' in page
    assert "web/js/shared.js" in page
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_shared_page_names_no_one(web_client):
    """The page carries nothing about the owner."""
    link = ShareLinkFactory(document__owner__display_name="Olivia Owner")
    owner = link.document.owner

    page = web_client.get(f"/s/{link.secret}").content.decode()

    assert owner.email not in page
    assert "Olivia Owner" not in page


@pytest.mark.parametrize("state", ["revoked", "expired", "forged", "short"])
def test_shared_page_dead_link_is_404(web_client, state):
    """A revoked, expired or unknown link is the site's ordinary 404 page."""
    now = timezone.now()
    link = ShareLinkFactory(
        revoked_at=now if state == "revoked" else None,
        expires_at=now if state == "expired" else None,
    )
    secret = {"forged": "A" * 43, "short": "abc"}.get(state, link.secret)

    response = web_client.get(f"/s/{secret}")

    assert response.status_code == 404
    assert link.document.title not in response.content.decode()


def test_shared_page_signed_in_link_asks_anonymous_to_sign_in(web_client):
    """A link for signed-in users shows a sign-in page (401), not the document."""
    link = ShareLinkFactory(audience="signed_in", document__title="Members only")

    response = web_client.get(f"/s/{link.secret}")

    assert response.status_code == 401
    page = response.content.decode()
    assert "Members only" not in page
    assert 'href="/signin"' in page


def test_shared_page_signed_in_editor_goes_to_link_editor(web_client, signed_in):
    """A signed-in user with an editor link is sent to the editor, in link mode."""
    signed_in()
    link = ShareLinkFactory(role="editor")

    response = web_client.get(f"/s/{link.secret}")

    assert response.status_code == 302
    assert response["Location"] == f"/#/s/{link.secret}"


def test_shared_page_user_with_own_edit_access_goes_to_the_document(
    web_client, signed_in
):
    """An owner or granted editor opening a link lands on the document itself."""
    user = signed_in()
    document = DocumentFactory()
    DocumentAccessFactory(document=document, user=user, role="editor")
    link = ShareLinkFactory(document=document)

    response = web_client.get(f"/s/{link.secret}")

    assert response["Location"] == f"/#/d/{document.pk}"


def test_shared_page_signed_in_viewer_link_is_read_only_page(web_client, signed_in):
    """A signed-in user with a viewer link gets the read-only page."""
    signed_in()
    link = ShareLinkFactory(document__title="Read me")

    response = web_client.get(f"/s/{link.secret}")

    assert response.status_code == 200
    assert "Read me" in response.content.decode()


def test_shared_page_anonymous_throttled_per_ip(web_client, settings):
    """Anonymous page views spend the `links` budget: past it, 429 with Retry-After."""
    local_tallies.clear()
    rates = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates["links"] = "1/min"
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": rates,
    }
    link = ShareLinkFactory()
    try:
        assert web_client.get(f"/s/{link.secret}").status_code == 200
        response = web_client.get(f"/s/{link.secret}")
    finally:
        local_tallies.clear()

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert link.document.title not in response.content.decode()


def test_shared_page_refuses_post(web_client):
    """The page is read only: other methods are 405."""
    link = ShareLinkFactory()

    assert web_client.post(f"/s/{link.secret}").status_code in (403, 405)

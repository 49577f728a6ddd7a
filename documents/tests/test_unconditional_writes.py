"""Writes without a version to check never answer 412.

A revision restore without ``If-Match`` and a write with ``If-Match: *``
apply to whatever version is current: a write that lands between the view's
read and its update (another tab, another client) must not turn them into
``precondition_failed``. Found by schemathesis (``make api-fuzz``), whose two
workers restored and edited the same document at once.
"""

import pytest

from documents import selectors, services
from documents.models import DocumentRevision

pytestmark = pytest.mark.django_db


def _read(doc, owner):
    return selectors.document_get_for_user(user=owner, document_id=doc.pk)


def _stale(doc, reader, writer):
    """Return ``doc`` as ``reader`` read it at version 1, once ``writer`` saved 2."""
    stale = _read(doc, reader)
    services.document_update(
        document=_read(doc, writer), user=writer, expected_version=1, title="Other"
    )
    return stale


def test_revision_restore_without_version_survives_a_concurrent_write(
    doc, owner, editor
):
    """Read at version 1, written by an editor to 2: the restore still wins."""
    stale = _stale(doc, owner, editor)
    revision = DocumentRevision.objects.get(document=doc, number=1)

    restored = services.revision_restore(
        document=stale, revision=revision, user=owner, expected_version=None
    )

    assert restored.version == 3
    assert restored.title == "Plan"


def test_update_with_any_version_survives_a_concurrent_write(doc, owner):
    """``If-Match: *`` (no expected version) overwrites the newer version."""
    stale = _stale(doc, owner, owner)

    updated = services.document_update(
        document=stale, user=owner, expected_version=None, title="Mine"
    )

    assert updated.version == 3
    assert updated.title == "Mine"


def test_update_with_a_stale_version_still_conflicts(doc, owner):
    """A named version that is no longer current is still a conflict."""
    stale = _stale(doc, owner, owner)

    with pytest.raises(services.VersionConflict):
        services.document_update(
            document=stale, user=owner, expected_version=1, title="Mine"
        )

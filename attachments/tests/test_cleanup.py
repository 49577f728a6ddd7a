"""``manage.py cleanup_attachments`` against moto's S3 and the local disk."""

from datetime import timedelta
from io import StringIO

from django.core.management import CommandError, call_command
from django.utils import timezone

import pytest

from attachments.adapters.storage import attachment_storage
from attachments.models import Attachment, StorageDeletion
from attachments.tests.factories import PNG_BYTES, AttachmentFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("cleanup_attachments", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture(params=["s3", "local"])
def storage_mode(request, settings):
    """Run the test once against moto's S3 and once against the local disk."""
    settings.ATTACHMENT_ORPHAN_GRACE_SECONDS = 0
    if request.param == "s3":
        request.getfixturevalue("s3_bucket")
    return request.param


def put(key: str) -> None:
    attachment_storage().put(key=key, data=PNG_BYTES, content_type="image/png")


def exists(key: str) -> bool:
    return attachment_storage().size(key=key) is not None


def stale_pending() -> Attachment:
    attachment = AttachmentFactory(status=Attachment.Status.PENDING)
    Attachment.objects.filter(pk=attachment.pk).update(
        created_at=timezone.now() - timedelta(days=2)
    )
    put(attachment.storage_key)
    return attachment


def test_cleanup_stale_pending_expired_and_object_deleted(storage_mode):
    """A pending upload older than the TTL is dropped with its stored object."""
    stale = stale_pending()
    fresh = AttachmentFactory(status=Attachment.Status.PENDING)
    put(fresh.storage_key)
    output = run()
    assert "Did expire 1 stale pending upload(s)" in output
    assert list(Attachment.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not exists(stale.storage_key)
    assert exists(fresh.storage_key)
    assert not StorageDeletion.objects.exists()


def test_cleanup_orphan_object_deleted_referenced_kept(storage_mode, settings):
    """Objects under the prefix with no row go; referenced and foreign ones stay."""
    ready = AttachmentFactory()
    put(ready.storage_key)
    orphan = "attachments/0123456789abcdef"
    put(orphan)
    attachment_storage().put(key="elsewhere/keep", data=b"x", content_type="")
    output = run()
    assert f"orphan {orphan}" in output
    assert "Did delete 1 orphan object(s)" in output
    assert not exists(orphan)
    assert exists(ready.storage_key)
    assert exists("elsewhere/keep")


def test_cleanup_orphan_within_grace_kept(storage_mode, settings):
    """A fresh object with no row may be an upload in flight: it is kept."""
    settings.ATTACHMENT_ORPHAN_GRACE_SECONDS = 3600
    put("attachments/in-flight")
    assert "Did delete 0 orphan object(s)" in run()
    assert exists("attachments/in-flight")


def test_cleanup_owed_deletion_retried(storage_mode):
    """A recorded deletion that failed earlier is retried and then forgotten."""
    put("attachments/owed")
    StorageDeletion.objects.create(storage_key="attachments/owed", attempts=1)
    assert "Did delete 1 owed stored object(s); 0 failed" in run()
    assert not exists("attachments/owed")
    assert not StorageDeletion.objects.exists()


def test_cleanup_dry_run_changes_nothing(storage_mode):
    """``--dry-run`` reports the same work and leaves rows and objects alone."""
    stale = stale_pending()
    put("attachments/orphan")
    StorageDeletion.objects.create(storage_key="attachments/gone")
    output = run("--dry-run")
    assert "Would expire 1 stale pending upload(s)" in output
    assert "Would delete 1 owed stored object(s)" in output
    assert "orphan attachments/orphan" in output
    assert Attachment.objects.filter(pk=stale.pk).exists()
    assert exists(stale.storage_key)
    assert exists("attachments/orphan")
    assert StorageDeletion.objects.count() == 1


def test_cleanup_storage_down_fails_and_keeps_records(own_moto_server):
    """With S3 stopped the command fails loudly and owed deletions stay recorded."""
    StorageDeletion.objects.create(storage_key="attachments/owed")
    own_moto_server.stop()
    own_moto_server.is_running = False
    with pytest.raises(CommandError):
        run()
    owed = StorageDeletion.objects.get()
    assert owed.attempts == 1
    assert owed.last_error

"""Attachment services and helpers: purges, account deletion/export, sniffing."""

import pytest

from accounts.selectors import user_export
from accounts.services import user_delete
from attachments.adapters.storage import attachment_storage, disposition
from attachments.models import Attachment, StorageDeletion
from attachments.ranges import RangeNotSatisfiable, parse_range
from attachments.services import attachment_clean_filename
from attachments.sniffing import TextCheck, is_text, sniff_matches
from attachments.tests.factories import PDF_BYTES, PNG_BYTES, AttachmentFactory
from documents.services import documents_purge
from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db


def stored(attachment: Attachment) -> Attachment:
    attachment_storage().put(
        key=attachment.storage_key, data=PNG_BYTES, content_type=""
    )
    return attachment


def exists(attachment: Attachment) -> bool:
    return attachment_storage().size(key=attachment.storage_key) is not None


def test_documents_purge_deletes_attachment_files_after_commit(
    django_capture_on_commit_callbacks,
):
    """Purging a document drops its attachments, then their files after commit."""
    attachment = stored(AttachmentFactory())
    other = stored(AttachmentFactory())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        documents_purge(document_ids=[attachment.document_id])
        assert exists(attachment)
    for callback in callbacks:
        callback()
    assert list(Attachment.objects.values_list("pk", flat=True)) == [other.pk]
    assert not exists(attachment)
    assert exists(other)
    assert not StorageDeletion.objects.exists()


def test_user_delete_deletes_uploads_and_files_of_owned_documents(
    user, django_capture_on_commit_callbacks
):
    """Account deletion removes the user's uploads and their owned documents' files."""
    own_document = stored(AttachmentFactory(document=DocumentFactory(owner=user)))
    uploaded_elsewhere = stored(AttachmentFactory(uploaded_by=user))
    someone_elses = stored(AttachmentFactory())
    with django_capture_on_commit_callbacks(execute=True):
        user_delete(user=user)
    assert list(Attachment.objects.values_list("pk", flat=True)) == [someone_elses.pk]
    assert not exists(own_document)
    assert not exists(uploaded_elsewhere)
    assert exists(someone_elses)


def test_user_export_lists_uploads_with_download_links(user):
    """The export holds each upload's metadata and a download link when ready."""
    ready = AttachmentFactory(uploaded_by=user, filename="a.png")
    pending = AttachmentFactory(uploaded_by=user, status=Attachment.Status.PENDING)
    AttachmentFactory()
    exported = user_export(user=user)["attachments"]
    assert [row["id"] for row in exported] == [str(ready.pk), str(pending.pk)]
    assert exported[0]["download_url"] == f"/api/v1/attachments/{ready.pk}/download/"
    assert exported[0]["filename"] == "a.png"
    assert exported[1]["download_url"] is None


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        (PNG_BYTES, "image/png", True),
        (PDF_BYTES, "image/png", False),
        (PDF_BYTES, "application/pdf", True),
        (b"plain words\n", "text/plain", True),
        ("café\n".encode(), "text/plain", True),
        (b"caf\xc3", "text/plain", False),  # a character cut off at the end
        (b"caf\xe9", "text/plain", False),  # Latin-1, not UTF-8
        (b"a" * 100_000 + b"\x00", "text/plain", False),  # NUL past the head
        (b"\x00\x01binary", "text/plain", False),
        (PNG_BYTES, "text/plain", False),
        (b"\xff\xfe\xfd not utf-8", "text/csv", False),
        (b"PK\x03\x04" + b"\x00" * 60, "application/zip", True),
        (b"<html><script>", "image/png", False),
    ],
)
def test_sniff_matches_declared_type(data, declared, expected):
    """Binary types by their first bytes; text types over the whole object."""
    head = data[:8192]
    assert (
        sniff_matches(head=head, declared_type=declared, is_text=is_text(data))
        is expected
    )


@pytest.mark.parametrize("split", range(1, 4))
def test_text_check_accepts_a_character_split_between_chunks(split):
    """A multi-byte character cut by a chunk boundary is still whole text."""
    data = "x€y".encode()  # the euro sign is 3 bytes
    check = TextCheck()
    check.feed(data[:split])
    check.feed(data[split:])
    assert check.finish() is True


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("bad\x00\nname.txt", "badname.txt"),
        ("...", "file"),
        ("é" * 300, "é" * 255),
    ],
)
def test_attachment_clean_filename_strips_paths_and_controls(raw, expected):
    """Display names keep no path and no control characters."""
    assert attachment_clean_filename(raw) == expected


def test_disposition_ascii_fallback_and_utf8_name():
    """Non-ASCII names get an ASCII ``filename`` and an RFC 5987 ``filename*``."""
    assert disposition('日本 "q".txt') == (
        'attachment; filename="_q_.txt"; '
        "filename*=UTF-8''%E6%97%A5%E6%9C%AC%20%22q%22.txt"
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", (0, 0)),
        ("bytes=5-", (5, 9)),
        ("bytes=-3", (7, 9)),
        ("bytes=-30", (0, 9)),
        ("bytes=2-100", (2, 9)),
        ("bytes=0-1,4-5", None),
        ("items=0-1", None),
        ("bytes=5-2", None),
        ("bytes=x-", None),
    ],
)
def test_parse_range_single_ranges(header, expected):
    """Single ranges are clipped to the file; anything else means the whole file."""
    assert parse_range(header, 10) == expected


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=-0"])
def test_parse_range_past_end_not_satisfiable(header):
    """A range that starts at or after the end cannot be satisfied."""
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 10)

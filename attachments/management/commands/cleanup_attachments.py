"""Expire stale uploads, retry owed storage deletions, delete orphan objects."""

from django.core.management.base import BaseCommand, CommandError

from tqdm import tqdm

from attachments.adapters.storage import StorageUnavailable
from attachments.housekeeping import (
    attachments_delete_orphans,
    attachments_expire_pending,
    storage_deletions_process,
)


class Command(BaseCommand):
    help = (
        "Expire pending uploads older than ATTACHMENT_PENDING_TTL_SECONDS, retry "
        "stored-file deletions that failed, and delete stored objects under "
        "ATTACHMENT_KEY_PREFIX that no attachment points to."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would be done without changing anything.",
        )

    def handle(self, *args, dry_run: bool = False, **options) -> None:
        verb = "Would" if dry_run else "Did"
        try:
            expired = attachments_expire_pending(dry_run=dry_run)
            self.stdout.write(f"{verb} expire {len(expired)} stale pending upload(s)")
            for key in expired:
                self.stdout.write(f"  pending {key}")
            deleted, failed = storage_deletions_process(dry_run=dry_run)
            self.stdout.write(
                f"{verb} delete {deleted} owed stored object(s); {failed} failed"
            )
            with tqdm(
                desc="Scanning stored objects", unit="obj", file=self.stderr._out
            ) as progress:
                orphans = attachments_delete_orphans(dry_run=dry_run, progress=progress)
            self.stdout.write(f"{verb} delete {len(orphans)} orphan object(s)")
            for key in orphans:
                self.stdout.write(f"  orphan {key}")
        except StorageUnavailable as error:
            raise CommandError(f"Storage is unavailable: {error}") from error
        if failed:
            raise CommandError(
                f"{failed} deletion(s) failed; they stay recorded for the next run."
            )

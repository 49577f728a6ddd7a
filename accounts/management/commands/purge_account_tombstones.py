"""Retry pending Cognito deletions and erase tombstones past their retention."""

from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import tombstones_purge, tombstones_retention


class Command(BaseCommand):
    help = (
        "Delete the Cognito users of deleted accounts that Cognito did not "
        "confirm yet, then erase tombstones older than "
        "ACCOUNTS_TOMBSTONE_RETENTION_DAYS (never under a day). Run daily."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        retried, erased = tombstones_purge()
        self.stdout.write(
            f"deleted {retried} pending Cognito user(s); erased {erased} "
            f"tombstone(s) older than {tombstones_retention().days} day(s)"
        )

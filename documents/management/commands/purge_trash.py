"""Erase documents that have been in the trash longer than a given age."""

import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tqdm import tqdm

from documents.models import Document
from documents.services import trash_purge_older_than

_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_age(value: str) -> timedelta:
    """Parse ``30d``, ``12h``, ``45m`` or ``90s`` into a timedelta."""
    match = re.fullmatch(r"(\d{1,6})([dhms])", value.strip())
    if match is None:
        raise CommandError(f"--older-than: expected e.g. 30d, 12h, 45m; got {value!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = "Permanently delete documents trashed longer ago than --older-than."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than", default="30d", help="e.g. 30d, 12h")
        parser.add_argument(
            "--dry-run", action="store_true", help="only count what would go"
        )
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, **options) -> None:
        cutoff = timezone.now() - parse_age(options["older_than"])
        total = Document.objects.filter(trashed_at__lt=cutoff).count()
        if options["dry_run"]:
            self.stdout.write(
                f"{total} document(s) trashed before {cutoff:%Y-%m-%d %H:%M} "
                "would be purged (dry run)."
            )
            return
        purged = 0
        with tqdm(
            total=total, unit="doc", desc="purging", file=self.stderr._out
        ) as bar:
            for count in trash_purge_older_than(
                cutoff=cutoff, batch_size=max(options["batch_size"], 1)
            ):
                purged += count
                bar.update(count)
        self.stdout.write(f"Purged {purged} document(s).")

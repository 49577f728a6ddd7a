"""Delete throttle counters whose window ended long ago."""

import time
from typing import Any

from django.core.management.base import BaseCommand

from project.models import ThrottleBucket


class Command(BaseCommand):
    help = "Delete throttle counters untouched for longer than --older-than seconds."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=2 * 86400,
            help="age in seconds of the window start (default: two days, "
            "longer than any daily rate)",
        )

    def handle(self, *args: Any, older_than: int, **options: Any) -> None:
        cutoff = int(time.time()) - older_than
        deleted, _ = ThrottleBucket.objects.filter(window_start__lt=cutoff).delete()
        self.stdout.write(f"deleted {deleted} throttle counters")

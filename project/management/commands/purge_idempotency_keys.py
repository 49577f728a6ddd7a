"""Delete expired idempotency keys and their stored responses."""

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from project.models import IdempotencyKey

BATCH = 5000


class Command(BaseCommand):
    help = "Delete idempotency keys past their expiry (run daily)."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        total = 0
        while True:
            ids = list(
                IdempotencyKey.objects.filter(expires_at__lte=now).values_list(
                    "pk", flat=True
                )[:BATCH]
            )
            if not ids:
                break
            total += IdempotencyKey.objects.filter(pk__in=ids).delete()[0]
        self.stdout.write(f"deleted {total} expired idempotency keys")

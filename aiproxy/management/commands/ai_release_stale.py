"""Release AI quota reservations left pending by a killed process."""

from django.core.management.base import BaseCommand

from aiproxy.services import quota_release_stale


class Command(BaseCommand):
    help = "Settle AI requests pending longer than AI_STALE_RESERVATION_SECONDS."

    def handle(self, *args, **options) -> None:
        released = quota_release_stale()
        self.stdout.write(f"Released {released} stale AI reservation(s).")

"""Create the demo accounts used by ``make run`` and print how to call the API."""

import os

from django.core.management.base import BaseCommand

from accounts.models import User

DEMO_EMAIL = "demo@example.com"
STAFF_EMAIL = "admin@example.com"


class Command(BaseCommand):
    help = "Create a demo user and a demo staff account (local development only)."

    def handle(self, *args, **options) -> None:
        User.objects.get_or_create(
            email=DEMO_EMAIL,
            defaults={"display_name": "Demo User", "is_email_verified": True},
        )
        staff, created = User.objects.get_or_create(
            email=STAFF_EMAIL,
            defaults={
                "display_name": "Demo Staff",
                "is_staff": True,
                "is_superuser": True,
            },
        )
        password = os.environ.get("QUIRE_DEMO_ADMIN_PASSWORD", "quire-admin")
        if created or not staff.has_usable_password():
            staff.set_password(password)
            staff.save(update_fields=["password"])
        port = os.environ.get("PORT", "8000")
        self.stdout.write(
            f"Admin: http://127.0.0.1:{port}/admin/  ({STAFF_EMAIL} / {password})"
        )

"""Create the demo accounts used by ``make run`` and print how to call the API."""

import os

from django.core.management.base import BaseCommand

from accounts import local_issuer
from accounts.models import User
from accounts.services import user_provision_local
from accounts.tokens import local_issuer_enabled

DEMO_EMAIL = "demo@example.com"
STAFF_EMAIL = "admin@example.com"
TOKEN_TTL_SECONDS = 12 * 3600


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
        base = f"http://127.0.0.1:{port}"
        self.stdout.write(
            f"Quire: {base}/  (one URL: the web app, the API under /api/v1/, "
            "the admin under /admin/, streaming AI under /api/v1/ai/)"
        )
        if local_issuer_enabled():
            demo = user_provision_local(email=DEMO_EMAIL)
            token = local_issuer.issue_token(
                sub=demo.sub, email=demo.email, ttl=TOKEN_TTL_SECONDS
            )
            self.stdout.write(f"Bearer token for {DEMO_EMAIL} (valid 12 h):")
            self.stdout.write(f"TOKEN={token}")
            self.stdout.write(
                f'curl -H "Authorization: Bearer {token}" {base}/api/v1/me'
            )
            self.stdout.write(
                f"AI (streaming, OpenAI-compatible): base_url={base}/api/v1/ai, "
                "api_key=<the token above>"
            )
            self.stdout.write(
                "More tokens: .venv/bin/python manage.py issue_dev_token "
                "--email you@example.com [--staff] [--id-token] [--ttl 3600]"
            )
        else:
            self.stdout.write("Cognito is configured: sign in through it for tokens.")
        self.stdout.write(f"Admin: {base}/admin/  ({STAFF_EMAIL} / {password})")

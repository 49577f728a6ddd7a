"""Mint a bearer token from the local issuer (laptops and tests only)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from accounts import local_issuer
from accounts.services import user_provision_local
from accounts.tokens import local_issuer_enabled


class Command(BaseCommand):
    help = (
        "Print a token for EMAIL signed by the local issuer; it goes through the "
        "same validator as Cognito tokens. Refused when Cognito is configured."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--staff", action="store_true", help="put the user in the staff group"
        )
        parser.add_argument(
            "--ttl",
            type=int,
            default=local_issuer.DEFAULT_TTL_SECONDS,
            help="lifetime in seconds (default: %(default)s)",
        )
        parser.add_argument(
            "--id-token",
            action="store_true",
            help="mint an ID token (with email) instead of an access token",
        )

    def handle(self, *args, email: str, staff: bool, ttl: int, id_token: bool, **_):
        if not local_issuer_enabled():
            raise CommandError(
                "The local issuer is disabled (COGNITO_USER_POOL is set or "
                "QUIRE_LOCAL_ISSUER=false); sign in through Cognito instead."
            )
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"Not an email address: {email}") from None
        if not 1 <= ttl <= 7 * 24 * 3600:
            raise CommandError("--ttl must be between 1 second and 7 days")
        user = user_provision_local(email=email, is_staff=staff)
        groups = (
            [settings.COGNITO_STAFF_GROUP]
            if staff and settings.COGNITO_STAFF_GROUP
            else []
        )
        token = local_issuer.issue_token(
            sub=user.sub,
            email=user.email,
            use="id" if id_token else "access",
            groups=groups,
            ttl=ttl,
        )
        self.stdout.write(token)

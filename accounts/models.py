"""The Quire user: one row per Cognito identity (``sub``)."""

import datetime as dt

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower

from project.models import BaseModel


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(
        self, email: str | None = None, password: str | None = None, **extra
    ) -> "User":
        """Create a user; without a password the account can only use tokens."""
        user = self.model(email=self.normalize_email(email) or None, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(
        self, email: str, password: str | None = None, **extra
    ) -> "User":
        """Create a staff superuser who can sign in to the admin."""
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(BaseModel, AbstractBaseUser, PermissionsMixin):
    """A person using Quire, identified by the Cognito ``sub`` claim."""

    sub = models.CharField(
        "Cognito sub", max_length=255, unique=True, null=True, blank=True
    )
    email = models.EmailField(unique=True, null=True, blank=True)
    is_email_verified = models.BooleanField(default=False)
    display_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    tokens_valid_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Tokens issued before this time are refused (sign out everywhere).",
    )
    cognito_username = models.CharField(
        max_length=255,
        blank=True,
        help_text="Cognito user name (for admin calls such as global sign-out).",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"), name="accounts_user_email_ci_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.sub or str(self.pk)


class AccountTombstone(BaseModel):
    """What is left of a deleted account: its ``sub`` and when it went.

    A token for ``sub`` issued at or before ``deleted_at`` is refused
    (``account_deleted``) and never creates an account again; a token issued
    later (a new sign-up with the same identity) may. Kept at least as long
    as the longest token lifetime (``ACCOUNTS_TOMBSTONE_RETENTION_DAYS``,
    ``purge_account_tombstones``). No email or other personal data is kept.
    """

    class DeletedBy(models.TextChoices):
        USER = "user", "the user"
        STAFF = "staff", "staff"

    sub = models.CharField("Cognito sub", max_length=255)
    deleted_at = models.DateTimeField()
    deleted_by = models.CharField(max_length=8, choices=DeletedBy.choices)
    cognito_username = models.CharField(
        max_length=255,
        blank=True,
        help_text="The Cognito user to delete; cleared once Cognito confirmed.",
    )
    cognito_deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When Cognito confirmed the user's deletion (empty: pending).",
    )

    class Meta:
        ordering = ["-deleted_at"]
        indexes = [models.Index(fields=["sub", "-deleted_at"])]

    def __str__(self) -> str:
        deleted = self.deleted_at.astimezone(dt.UTC)
        return f"{self.sub} (deleted {deleted:%Y-%m-%d %H:%M:%S} UTC)"

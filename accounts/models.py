"""The Quire user: one row per Cognito identity (``sub``)."""

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

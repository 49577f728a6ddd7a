"""Reads on users."""

from typing import Any

from accounts import registry
from accounts.models import User


def user_get(*, user_id: Any) -> User | None:
    """Return the user with ``user_id``, or None."""
    return User.objects.filter(pk=user_id).first()


def user_get_by_email(*, email: str) -> User | None:
    """Return the user whose email is ``email`` (case-insensitive), or None."""
    return User.objects.filter(email__iexact=email.strip()).first()


def user_profile(*, user: User) -> dict[str, Any]:
    """Return the user's profile as exported and shown by ``/me``."""
    return {
        "id": str(user.pk),
        "email": user.email,
        "is_email_verified": user.is_email_verified,
        "display_name": user.display_name,
        "is_staff": user.is_staff,
        "created_at": user.created_at.isoformat(),
        "last_seen_at": user.last_seen_at.isoformat() if user.last_seen_at else None,
    }


def user_export(*, user: User) -> dict[str, Any]:
    """Return all of the user's data: the profile plus each app's part."""
    data: dict[str, Any] = {"profile": user_profile(user=user)}
    for contributor in registry.contributors():
        data[contributor.name] = contributor.export(user)
    return data

"""The user lookup by ``sub`` that every authenticated request makes."""

from datetime import timedelta

from django.utils import timezone

import pytest

from accounts.models import User
from accounts.selectors import user_get_by_sub
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FIELDS = [field.attname for field in User._meta.concrete_fields]


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"is_active": False},
        {"tokens_valid_after": timezone.now() - timedelta(minutes=5)},
        {"is_staff": True, "is_superuser": True, "last_seen_at": timezone.now()},
        {"email": None, "is_email_verified": False, "display_name": ""},
        {"cognito_username": "ada-in-cognito", "last_login": timezone.now()},
    ],
)
def test_user_get_by_sub_matches_the_orm(state):
    """The fast lookup gives the ORM's user, field for field and type for type."""
    UserFactory()  # another row the lookup must not return
    user = UserFactory(**state)
    fast = user_get_by_sub(sub=user.sub)
    orm = User.objects.filter(sub=user.sub).first()
    assert fast is not None
    for name in FIELDS:
        assert getattr(fast, name) == getattr(orm, name), name
        assert type(getattr(fast, name)) is type(getattr(orm, name)), name
    assert fast == orm
    assert fast.get_deferred_fields() == set()


def test_user_get_by_sub_unknown_returns_none():
    """No row for the sub: None, like ``.first()``."""
    UserFactory()
    assert user_get_by_sub(sub="nobody") is None


def test_user_get_by_sub_instance_saves_like_an_orm_instance():
    """The instance is a loaded row: saving updates it, never inserts another."""
    user = UserFactory()
    fast = user_get_by_sub(sub=user.sub)
    fast.display_name = "Renamed"
    fast.save(update_fields=["display_name"])
    assert User.objects.count() == 1
    assert User.objects.get(pk=user.pk).display_name == "Renamed"

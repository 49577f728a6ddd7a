"""The user admin: list, search, filters and the sign-out action."""

import pytest

from accounts.models import User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/user/"


def test_user_admin_changelist_lists_users(staff_client):
    """The changelist shows users with their email."""
    UserFactory(email="listed@example.com")
    response = staff_client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"listed@example.com" in response.content


@pytest.mark.parametrize("field", ["email", "sub"])
def test_user_admin_search_by_email_or_sub(staff_client, field):
    """Staff find a user by email or Cognito sub."""
    target = UserFactory(email="needle@example.com")
    UserFactory(email="hay@example.com")
    response = staff_client.get(CHANGELIST, {"q": getattr(target, field)})
    assert response.status_code == 200
    assert b"needle@example.com" in response.content
    assert b"hay@example.com" not in response.content


@pytest.mark.parametrize("query", ["is_staff__exact=1", "is_active__exact=0"])
def test_user_admin_filters_answer(staff_client, query):
    """The staff and active filters work."""
    UserFactory(is_active=False)
    assert staff_client.get(f"{CHANGELIST}?{query}").status_code == 200


def test_user_admin_change_page_renders(staff_client):
    """The change page renders for a user."""
    target = UserFactory()
    response = staff_client.get(f"{CHANGELIST}{target.pk}/change/")
    assert response.status_code == 200


def test_user_admin_add_is_refused(staff_client):
    """Users are created by sign-in, not in the admin."""
    assert staff_client.get(f"{CHANGELIST}add/").status_code == 403


def test_user_admin_sign_out_action_revokes_tokens(staff_client, bearer_for):
    """The admin action refuses the user's existing tokens."""
    target = UserFactory()
    token = bearer_for(target)
    response = staff_client.post(
        CHANGELIST,
        {"action": "sign_out_everywhere", "_selected_action": [str(target.pk)]},
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.tokens_valid_after is not None
    from rest_framework.test import APIClient

    me = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 401
    assert me.json()["code"] == "token_revoked"


def test_user_admin_deactivate_refuses_next_request(staff_client, bearer_for):
    """Unticking is_active in the admin locks the user out of the API."""
    target = UserFactory()
    token = bearer_for(target)
    User.objects.filter(pk=target.pk).update(is_active=False)
    from rest_framework.test import APIClient

    me = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 401
    assert me.json()["code"] == "user_inactive"

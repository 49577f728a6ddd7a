"""The AI admin pages."""

from django.core.management import call_command

import pytest

from accounts.tests.factories import UserFactory
from aiproxy.adapters.base import Usage
from aiproxy.services import quota_reserve, quota_settle
from aiproxy.tests.factories import AIModelFactory

pytestmark = pytest.mark.django_db


def _settled(user, model, usage: Usage) -> None:
    reservation = quota_reserve(user=user, model=model, tokens_needed=100)
    quota_settle(reservation=reservation, status="ok", usage=usage)


def test_admin_ledger_filter_by_status_and_user(staff_client):
    """The ledger filters by status and user."""
    model = AIModelFactory()
    user = UserFactory()
    _settled(user, model, Usage(1, 1))
    response = staff_client.get(
        f"/admin/aiproxy/usagerecord/?status__exact=ok&user__id__exact={user.pk}"
    )
    assert response.status_code == 200
    assert response.context_data["cl"].result_count == 1


@pytest.mark.parametrize(
    "url",
    [
        "/admin/aiproxy/aimodel/",
        "/admin/aiproxy/aimodel/add/",
        "/admin/aiproxy/userquota/",
    ],
)
def test_admin_catalogue_and_quota_pages_load(staff_client, url):
    """The catalogue and quota pages answer 200."""
    assert staff_client.get(url).status_code == 200


def test_ai_release_stale_command_runs(capsys):
    """The release command reports how many reservations it released."""
    call_command("ai_release_stale")
    assert "Released 0 stale AI reservation(s)." in capsys.readouterr().out


def test_admin_user_page_has_quota_inline(staff_client):
    """The user's admin page carries the AI quota override inline."""
    user = UserFactory()
    response = staff_client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert response.status_code == 200
    assert b"AI quota override" in response.content

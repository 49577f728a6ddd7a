"""The user list's CSV export: account fields only, the filtered users, streamed."""

import csv
import io

import pytest

from accounts.exports import USER_EXPORT_COLUMNS, user_export_header
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"
EXPORT = "/admin/accounts/user/export/"
OWN = [column for column, _ in USER_EXPORT_COLUMNS]


@pytest.fixture
def staff(db):
    return UserFactory(
        is_staff=True,
        is_superuser=True,
        email="staff@example.com",
        display_name="Staff",
    )


def _rows(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_user_export_is_a_streamed_csv_download(staff_client):
    """The export streams text/csv as an attachment named after the users."""
    response = staff_client.get(EXPORT)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="quire-users-'
    )
    assert "no-store" in response["Cache-Control"]


def test_user_export_row_holds_the_account_fields(staff_client):
    """A row carries the id, email, name, flags and UTC times of the account."""
    user = UserFactory(email="ada@example.com", display_name="Ada", is_active=False)
    rows = {row["email"]: row for row in _rows(staff_client.get(EXPORT))}
    row = rows["ada@example.com"]
    assert list(row) == user_export_header()
    assert list(row)[: len(OWN)] == OWN
    assert (row["id"], row["display_name"], row["cognito_sub"]) == (
        str(user.pk),
        "Ada",
        user.sub,
    )
    assert (row["active"], row["staff"], row["email_verified"]) == (
        "false",
        "false",
        "true",
    )
    assert row["created_at_utc"] == user.created_at.strftime("%Y-%m-%d %H:%M:%S")
    assert row["last_seen_at_utc"] == ""


def test_user_export_leaks_no_secret(staff_client):
    """No password hash or sign-out cutoff is exported."""
    user = UserFactory()
    text = b"".join(staff_client.get(EXPORT).streaming_content).decode()
    assert user.password not in text
    assert "password" not in text.splitlines()[0]
    assert "tokens_valid_after" not in text.splitlines()[0]


def test_user_export_respects_filters_and_search(staff_client):
    """Only the users the list's filters and search keep are exported."""
    # Fixed names: the factory's random ones can contain "ada" ("Adams").
    UserFactory(email="ada@example.com", display_name="Ada", is_active=True)
    UserFactory(email="ada.old@example.com", display_name="Ada", is_active=False)
    UserFactory(email="bob@example.com", display_name="Bob", is_active=True)
    rows = _rows(staff_client.get(EXPORT, {"q": "ada", "is_active__exact": "1"}))
    assert [row["email"] for row in rows] == ["ada@example.com"]


def test_user_export_neutralises_spreadsheet_formulas(staff_client):
    """A name a spreadsheet would run as a formula starts with a quote."""
    UserFactory(email="eve@example.com", display_name="=cmd|' /C calc'!A0")
    rows = {row["email"]: row for row in _rows(staff_client.get(EXPORT))}
    assert rows["eve@example.com"]["display_name"] == "'=cmd|' /C calc'!A0"


def test_user_export_action_exports_the_selected_users(staff_client):
    """The action exports just the selected users."""
    chosen, _other = UserFactory(), UserFactory()
    response = staff_client.post(
        USERS, {"action": "export_selected_csv", "_selected_action": [str(chosen.pk)]}
    )
    assert [row["id"] for row in _rows(response)] == [str(chosen.pk)]


def test_user_export_needs_the_view_permission(client):
    """Staff without the users' view permission get 403."""
    client.force_login(UserFactory(is_staff=True))
    assert client.get(EXPORT).status_code == 403


def test_user_list_has_the_export_button(staff_client):
    """The user list's "Export CSV" button carries the list's query string."""
    content = staff_client.get(USERS, {"is_staff__exact": "1"}).content.decode()
    assert f'href="{EXPORT}?is_staff__exact=1"' in content


def test_user_export_streams_in_one_query(staff, django_assert_num_queries):
    """The users and the registered columns come from one query."""
    from accounts.exports import user_export_csv
    from accounts.models import User

    UserFactory.create_batch(3)
    response = user_export_csv(User.objects.order_by("created_at"))
    with django_assert_num_queries(1):
        lines = list(response.streaming_content)
    assert len(lines) == 5  # header, staff and three users

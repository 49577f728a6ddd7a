"""``/api/v1/me`` through the real authentication path (local issuer)."""

from datetime import timedelta

from django.utils import timezone

import pytest
from rest_framework.test import APIClient

from accounts import local_issuer
from accounts.models import User
from accounts.registry import AccountContributor, register
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"


def _profile(user: User) -> dict:
    user.refresh_from_db()
    return {
        "id": str(user.pk),
        "email": user.email,
        "is_email_verified": user.is_email_verified,
        "display_name": user.display_name,
        "is_staff": user.is_staff,
        "created_at": user.created_at.isoformat().replace("+00:00", "Z"),
        "last_seen_at": user.last_seen_at.isoformat().replace("+00:00", "Z")
        if user.last_seen_at
        else None,
    }


def test_me_get_with_token_returns_profile(user, bearer_client):
    """A valid token answers 200 with the caller's profile."""
    response = bearer_client(user).get(ME)
    assert response.status_code == 200
    assert response.json() == _profile(user)


def test_me_get_without_token_returns_401_challenge(api_client):
    """No token: 401, a Bearer challenge without error, the JSON error shape."""
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer a b", "Bearer not-a-jwt", "Bearer a.b.c"]
)
def test_me_get_malformed_token_returns_401_invalid_token(api_client, header):
    """A malformed bearer header is refused without echoing it."""
    response = api_client.get(ME, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    body = response.json()
    assert body["code"] == "token_invalid"
    assert set(body) == {"detail", "code"}
    assert "not-a-jwt" not in response.content.decode()


def test_me_get_first_token_creates_user(api_client):
    """An unknown sub with a verified ID token creates the user with its email."""
    token = local_issuer.issue_token(sub="new-sub-1", email="new@example.com", use="id")
    response = api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    user = User.objects.get(sub="new-sub-1")
    assert response.json() == _profile(user)
    assert user.email == "new@example.com"
    assert user.is_email_verified is True


def test_me_get_access_token_new_user_has_no_email_locally(api_client):
    """A local access token for an unknown sub creates a user without email."""
    token = local_issuer.issue_token(sub="new-sub-2")
    response = api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json()["email"] is None


def test_me_get_inactive_user_returns_401_user_inactive(bearer_client):
    """A user switched off in the admin is refused on the next request."""
    user = UserFactory(is_active=False)
    response = bearer_client(user).get(ME)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "This account is disabled.",
        "code": "user_inactive",
    }


def test_me_get_token_before_cutoff_returns_401_token_revoked(user, bearer_for):
    """A token issued before the sign-out cutoff is refused."""
    token = bearer_for(user)
    user.tokens_valid_after = timezone.now() + timedelta(seconds=1)
    user.save()
    client = APIClient()
    response = client.get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json() == {
        "detail": "The token has been revoked.",
        "code": "token_revoked",
    }


def test_me_get_token_after_cutoff_is_accepted(user, bearer_for):
    """A token issued after the cutoff works."""
    user.tokens_valid_after = timezone.now() - timedelta(seconds=5)
    user.save()
    client = APIClient()
    response = client.get(ME, HTTP_AUTHORIZATION=f"Bearer {bearer_for(user)}")
    assert response.status_code == 200


def test_me_get_staff_group_sets_and_clears_staff(user, bearer_client):
    """Membership of the staff group makes staff; its absence removes it."""
    assert bearer_client(user, staff=True).get(ME).json()["is_staff"] is True
    user.refresh_from_db()
    assert user.is_staff is True
    assert bearer_client(user, staff=False).get(ME).json()["is_staff"] is False
    user.refresh_from_db()
    assert user.is_staff is False


def test_me_get_staff_group_unset_leaves_staff_alone(settings, bearer_client):
    """Without COGNITO_STAFF_GROUP the staff flag is managed in the admin only."""
    settings.COGNITO_STAFF_GROUP = ""
    staff = UserFactory(is_staff=True)
    assert bearer_client(staff).get(ME).json()["is_staff"] is True


def test_me_get_last_seen_written_once_per_interval(user, bearer_client):
    """Repeated requests write last_seen_at at most once per interval."""
    client = bearer_client(user)
    client.get(ME)
    user.refresh_from_db()
    first = user.last_seen_at
    assert first is not None
    client.get(ME)
    user.refresh_from_db()
    assert user.last_seen_at == first


def test_me_get_authenticated_costs_one_query(
    user, bearer_client, django_assert_num_queries
):
    """A repeated request costs one query: the user row, read with its state."""
    client = bearer_client(user)
    client.get(ME)
    with django_assert_num_queries(1):
        assert client.get(ME).status_code == 200


def test_me_patch_changes_display_name(user, bearer_client):
    """PATCH changes the display name and answers the new profile."""
    response = bearer_client(user).patch(ME, {"display_name": "  Ada  "}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.display_name == "Ada"
    assert response.json() == _profile(user)


def test_me_patch_without_fields_changes_nothing(user, bearer_client):
    """PATCH is partial, as the schema says: ``{}`` answers the unchanged profile."""
    user.display_name = "Ada"
    user.save()

    response = bearer_client(user).patch(ME, {}, format="json")

    assert response.status_code == 200
    assert response.json()["display_name"] == "Ada"
    user.refresh_from_db()
    assert user.display_name == "Ada"


def test_me_patch_email_is_ignored(user, bearer_client):
    """The email is read-only: PATCH cannot change it."""
    email = user.email
    response = bearer_client(user).patch(
        ME, {"display_name": "X", "email": "evil@example.com"}, format="json"
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.email == email


@pytest.mark.parametrize(
    "body",
    [
        {"display_name": "x" * 151},
        {"display_name": ["a"]},
        {"display_name": None},
        [],
    ],
)
def test_me_patch_bad_input_returns_400(user, bearer_client, body):
    """Bad input answers 400 with field errors and changes nothing."""
    name = user.display_name
    response = bearer_client(user).patch(ME, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    user.refresh_from_db()
    assert user.display_name == name


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "Must be a string."),
        (12.5, "Must be a string."),
        (True, "Must be a string."),
        ({"name": "Ada"}, "Must be a string."),
        ("Ada\x00", "Must not contain control characters."),
        ("Ada\x1b[31m", "Must not contain control characters."),
        ("Ada\x7f", "Must not contain control characters."),
        ("Ada\nLovelace", "Must not contain control characters."),
        ("Ada\rLovelace", "Must not contain control characters."),
    ],
)
def test_me_patch_display_name_not_a_clean_string_returns_400(
    user, bearer_client, value, message
):
    """A non-string (never coerced: 0 is not "0") or control characters: 400, no change.

    The same checks as a document's title (``project.fields.StrictCharField``).
    """
    name = user.display_name
    response = bearer_client(user).patch(ME, {"display_name": value}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "code": "invalid",
        "fields": {"display_name": [message]},
    }
    user.refresh_from_db()
    assert user.display_name == name


def test_me_patch_display_name_with_tab_and_unicode_is_kept(user, bearer_client):
    """Ordinary text, accents and emoji included, is a valid name (trimmed)."""
    response = bearer_client(user).patch(
        ME, {"display_name": "  Zoë 🚀 Lovelace "}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["display_name"] == "Zoë 🚀 Lovelace"


def test_me_get_writes_date_times_in_utc_with_z(user, bearer_client):
    """``created_at`` and ``last_seen_at`` end in ``Z``, as documents' do."""
    body = bearer_client(user).get(ME).json()

    assert body["created_at"].endswith("Z")
    assert body["last_seen_at"].endswith("Z")


def test_me_delete_removes_user_and_runs_contributors(user, bearer_client):
    """DELETE removes the account after every contributor deleted its part."""
    deleted = []
    register(
        AccountContributor(
            name="test_probe",
            export=lambda u: {"n": 1},
            delete=lambda u: deleted.append(u.pk),
        )
    )
    try:
        response = bearer_client(user).delete(ME)
    finally:
        from accounts import registry

        registry._contributors.pop("test_probe", None)
    assert response.status_code == 204
    assert deleted == [user.pk]
    assert not User.objects.filter(pk=user.pk).exists()


def test_me_delete_failing_contributor_keeps_account(user, bearer_client):
    """A contributor failure rolls the whole deletion back."""

    def boom(u):
        raise RuntimeError("storage down")

    register(AccountContributor(name="test_boom", export=lambda u: {}, delete=boom))
    client = bearer_client(user)
    client.raise_request_exception = False
    try:
        response = client.delete(ME)
    finally:
        from accounts import registry

        registry._contributors.pop("test_boom", None)
    assert response.status_code == 500
    assert User.objects.filter(pk=user.pk).exists()


def test_me_export_returns_profile_and_contributor_parts(user, bearer_client):
    """The export holds the profile and each contributor's part by name."""
    register(
        AccountContributor(
            name="test_probe",
            export=lambda u: {"mine": str(u.pk)},
            delete=lambda u: None,
        )
    )
    try:
        response = bearer_client(user).get("/api/v1/me/export")
    finally:
        from accounts import registry

        registry._contributors.pop("test_probe", None)
    assert response.status_code == 200
    body = response.json()
    assert body["profile"] == _profile(user)
    assert body["test_probe"] == {"mine": str(user.pk)}


def test_me_sign_out_revokes_earlier_tokens(user, bearer_for):
    """After sign-out, the token used (issued before) is refused."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {bearer_for(user)}")
    response = client.post("/api/v1/me/sign-out")
    assert response.status_code == 204
    user.refresh_from_db()
    assert user.tokens_valid_after is not None
    again = client.get(ME)
    assert again.status_code == 401
    assert again.json()["code"] == "token_revoked"


def test_me_sign_out_later_token_works(user, bearer_client, bearer_for):
    """A token issued after the sign-out is accepted."""
    bearer_client(user).post("/api/v1/me/sign-out")
    user.refresh_from_db()
    later = int(user.tokens_valid_after.timestamp()) + 1
    token = bearer_for(user, issued_at=later)
    response = APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"COGNITO_USER_POOL": "us-east-1_x", "COGNITO_AUDIENCE": []},
        {"LOCAL_ISSUER_ENABLED": False},
    ],
)
def test_me_get_incomplete_cognito_settings_returns_503(
    settings, user, bearer_for, overrides
):
    """Cognito switched on but incomplete answers 503, without any fetch."""
    token = bearer_for(user)
    for name, value in overrides.items():
        setattr(settings, name, value)
    response = APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 503
    assert response.json() == {
        "detail": "Sign-in is not configured on this server.",
        "code": "auth_not_configured",
    }

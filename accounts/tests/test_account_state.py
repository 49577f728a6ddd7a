"""Account state is read on every request; deleted accounts stay deleted."""

import time
from datetime import timedelta

from django.utils import timezone

import jwt
import pytest
from rest_framework.test import APIClient

from accounts import local_issuer
from accounts.models import AccountTombstone, User
from accounts.services import tombstones_purge, user_delete
from accounts.tests.factories import UserFactory
from accounts.tokens import VerifiedTokens, get_validator

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"
DELETED = {"detail": "This account has been deleted.", "code": "account_deleted"}


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _token(sub: str, **kw) -> str:
    return local_issuer.issue_token(sub=sub, **kw)


def test_state_deactivation_without_signals_refuses_next_request(user, bearer_client):
    """A row changed behind the ORM's back (another process) is seen at once."""
    client = bearer_client(user)
    assert client.get(ME).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"


def test_state_sign_out_elsewhere_refuses_next_request(user, bearer_client):
    """A cutoff written by another process refuses the token on the next request."""
    client = bearer_client(user)
    assert client.get(ME).status_code == 200
    User.objects.filter(pk=user.pk).update(tokens_valid_after=timezone.now())
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_state_sign_out_refuses_token_of_an_earlier_session(user):
    """A refreshed token (new ``iat``, old ``auth_time``) of an ended session fails."""
    now = int(time.time())
    User.objects.filter(pk=user.pk).update(
        tokens_valid_after=timezone.now() - timedelta(seconds=30)
    )
    token = _token(user.sub, issued_at=now)
    assert _client(token).get(ME).status_code == 200

    claims = jwt.decode(token, options={"verify_signature": False})
    private, kid = local_issuer.signing_key()
    claims["auth_time"] = now - 60
    stale = jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})
    response = _client(stale).get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_state_deleted_account_token_answers_401_account_deleted(user, bearer_client):
    """After deletion the same token answers 401 account_deleted."""
    client = bearer_client(user)
    assert client.get(ME).status_code == 200
    assert client.delete(ME).status_code == 204
    response = client.get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json() == DELETED


def test_state_deleted_account_token_never_creates_an_account(user, bearer_client):
    """An old token of a deleted account creates no new row, whatever it asks."""
    client = bearer_client(user)
    sub = user.sub
    assert client.delete(ME).status_code == 204
    for _ in range(3):
        assert client.post("/api/v1/documents/", {"title": "x"}).status_code == 401
    assert not User.objects.filter(sub=sub).exists()


def test_state_deletion_records_a_tombstone(user):
    """Deletion keeps the sub and the time, and nothing personal."""
    before = timezone.now()
    tombstone = user_delete(user=user)
    assert tombstone is not None
    stored = AccountTombstone.objects.get()
    assert stored.sub == user.sub
    assert before <= stored.deleted_at <= timezone.now()
    assert stored.deleted_by == AccountTombstone.DeletedBy.USER
    assert stored.cognito_username == ""  # the local issuer has no Cognito user


def test_state_token_issued_after_deletion_creates_a_new_account(user, bearer_client):
    """A new sign-up after the deletion gets a new, empty account."""
    sub, old_id = user.sub, user.pk
    assert bearer_client(user).delete(ME).status_code == 204
    later = int(time.time()) + 2
    response = _client(_token(sub, issued_at=later)).get(ME)
    assert response.status_code == 200
    assert response.json()["id"] != str(old_id)
    assert User.objects.filter(sub=sub).count() == 1


def test_state_old_token_refused_after_account_created_again(user, bearer_for):
    """Once a new account exists for the sub, the old account's token stays refused."""
    sub = user.sub
    old = bearer_for(user)
    assert _client(old).delete(ME).status_code == 204
    later = int(time.time()) + 2
    assert _client(_token(sub, issued_at=later)).get(ME).status_code == 200
    response = _client(old).get(ME)
    assert response.status_code == 401
    assert response.json() == DELETED


@pytest.mark.django_db(transaction=True)
def test_state_stale_user_write_answers_401_not_500(client_for):
    """A request holding a user deleted meanwhile answers 401, not an IntegrityError.

    Transactional: the foreign key to the user is checked at commit.
    """
    user = UserFactory()
    client = client_for(user)  # the request keeps this (now stale) instance
    User.objects.filter(pk=user.pk).delete()
    response = client.post("/api/v1/documents/", {"title": "late"}, format="json")
    assert response.status_code == 401
    assert response.json() == DELETED


def test_state_deleting_twice_is_harmless(user):
    """A second deletion of the same account (a retry) does nothing."""
    user_delete(user=user)
    assert user_delete(user=user) is None
    assert AccountTombstone.objects.count() == 1


def test_tombstones_purge_erases_only_past_retention(settings):
    """Tombstones older than the retention go; younger ones stay."""
    settings.ACCOUNTS_TOMBSTONE_RETENTION_DAYS = 30
    now = timezone.now()
    old = AccountTombstone.objects.create(
        sub="old", deleted_at=now - timedelta(days=31), deleted_by="user"
    )
    young = AccountTombstone.objects.create(
        sub="young", deleted_at=now - timedelta(days=29), deleted_by="user"
    )
    assert tombstones_purge(now=now) == (0, 1)
    remaining = set(AccountTombstone.objects.values_list("pk", flat=True))
    assert remaining == {young.pk}
    assert old.pk not in remaining


def test_tombstones_retention_never_under_a_day(settings):
    """A retention set below the longest token lifetime is raised to one day."""
    settings.ACCOUNTS_TOMBSTONE_RETENTION_DAYS = 0
    now = timezone.now()
    AccountTombstone.objects.create(
        sub="recent", deleted_at=now - timedelta(hours=23), deleted_by="user"
    )
    assert tombstones_purge(now=now) == (0, 0)
    assert AccountTombstone.objects.count() == 1


def test_verified_tokens_keyed_by_hash_not_token():
    """The memory holds a digest of each token, never the token itself."""
    cache = VerifiedTokens()
    token = _token("someone")
    cache.put(token, "kid", {"exp": time.time() + 60, "sub": "someone"})
    assert token.encode() not in cache.entries
    assert all(len(key) == 32 for key in cache.entries)
    kid, claims = cache.get(token)
    assert (kid, claims["sub"]) == ("kid", "someone")


def test_verified_tokens_never_past_exp():
    """An entry is gone once the token's ``exp`` has passed."""
    now = [1000.0]
    cache = VerifiedTokens(clock=lambda: now[0])
    cache.put("t", "kid", {"exp": 1010})
    assert cache.get("t") is not None
    now[0] = 1010.0
    assert cache.get("t") is None


def test_verified_tokens_bounded_in_size():
    """The oldest entries go first when the memory is full."""
    cache = VerifiedTokens(max_entries=2, clock=lambda: 0.0)
    for name in ("a", "b", "c"):
        cache.put(name, "kid", {"exp": 10})
    assert len(cache) == 2
    assert cache.get("a") is None
    assert cache.get("c") is not None


def test_verified_tokens_give_the_claims_of_a_full_verification(user, bearer_for):
    """A remembered token yields exactly the claims a fresh verification gives."""
    token = bearer_for(user)
    validator = get_validator()
    first = validator.validate(token)
    assert len(validator.verified) == 1
    remembered = validator.validate(token)
    validator.verified.clear()
    assert remembered == first == validator.validate(token)


def test_state_repeated_request_reads_user_row_every_time(
    user, bearer_client, django_assert_num_queries
):
    """Each request reads the user row (its state); the signature is not rechecked."""
    client = bearer_client(user)
    client.get(ME)
    for _ in range(2):
        with django_assert_num_queries(1) as captured:
            assert client.get(ME).status_code == 200
        assert User._meta.db_table in captured.captured_queries[0]["sql"]


def test_state_other_users_unaffected_by_deletion(bearer_client):
    """Deleting one account leaves other accounts' tokens working."""
    ada, bob = UserFactory(), UserFactory()
    assert bearer_client(ada).delete(ME).status_code == 204
    assert bearer_client(bob).get(ME).status_code == 200


def test_get_validator_follows_a_changed_setting(settings):
    """The remembered validator is dropped when a setting changes."""
    first = get_validator()
    assert get_validator() is first
    settings.COGNITO_LEEWAY_SECONDS = 5
    changed = get_validator()
    assert changed is not first
    assert changed.config.leeway == 5

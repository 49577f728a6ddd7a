"""The per-process memory of accepted bearer tokens (``accounts.authcache``)."""

import time

from django.db import connection
from django.test.utils import CaptureQueriesContext

import pytest

from accounts.authcache import AcceptedTokens, accepted_tokens
from accounts.models import User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"
USER_TABLE = User._meta.db_table


def _user_reads(client) -> int:
    """Return how many statements a ``/me`` request ran against the user table
    other than the profile read itself."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(ME).status_code == 200
    return sum(USER_TABLE in q["sql"] for q in queries.captured_queries) - 1


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_authcache_second_request_skips_the_user_lookup(user, bearer_client):
    """A token seen once is not verified and looked up again."""
    client = bearer_client(user)
    assert _user_reads(client) >= 1
    assert _user_reads(client) == 0


def test_authcache_off_when_seconds_is_zero(settings, user, bearer_client):
    """``ACCOUNTS_AUTH_CACHE_SECONDS = 0`` checks the token on every request."""
    settings.ACCOUNTS_AUTH_CACHE_SECONDS = 0
    client = bearer_client(user)
    client.get(ME)
    assert _user_reads(client) == 1
    assert len(accepted_tokens) == 0


def test_authcache_sign_out_refuses_remembered_token_at_once(user, bearer_client):
    """Signing out everywhere forgets the token in this process immediately."""
    client = bearer_client(user)
    assert client.get(ME).status_code == 200
    time.sleep(1.05)  # the cutoff has one-second resolution, like `iat`
    assert client.post(f"{ME}/sign-out").status_code == 204
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_authcache_deactivation_by_save_refuses_at_once(user, bearer_client):
    """A user saved as inactive (the admin, say) is refused on the next request."""
    client = bearer_client(user)
    assert client.get(ME).status_code == 200
    user.is_active = False
    user.save()
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"


def test_authcache_change_elsewhere_applies_within_the_ttl(user, bearer_client):
    """A change this process was not told of (another task's) waits for expiry."""
    client = bearer_client(user)
    assert client.get(ME).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)  # no signal: elsewhere
    assert client.get(ME).status_code == 200  # remembered: the documented bound
    accepted_tokens._clock = lambda: time.time() + 11  # noqa: SLF001
    try:
        assert client.get(ME).status_code == 401
    finally:
        accepted_tokens._clock = time.time  # noqa: SLF001


def test_authcache_entry_never_outlives_the_token(settings):
    """An entry expires with the token's ``exp`` when that comes first."""
    settings.ACCOUNTS_AUTH_CACHE_SECONDS = 60
    clock = Clock()
    tokens = AcceptedTokens(clock=clock)
    user = UserFactory.build()
    tokens.put("t", user, {"exp": clock.now + 5})
    clock.now += 4
    assert tokens.get("t") is not None
    clock.now += 1
    assert tokens.get("t") is None


def test_authcache_entry_expires_after_ttl(settings):
    """An entry lasts ``ACCOUNTS_AUTH_CACHE_SECONDS`` at most."""
    settings.ACCOUNTS_AUTH_CACHE_SECONDS = 10
    clock = Clock()
    tokens = AcceptedTokens(clock=clock)
    tokens.put("t", UserFactory.build(), {"exp": clock.now + 3600})
    clock.now += 9.9
    assert tokens.get("t") is not None
    clock.now += 0.1
    assert tokens.get("t") is None


def test_authcache_bounded_in_size(settings):
    """The least recently used entries go first beyond ``max_entries``."""
    settings.ACCOUNTS_AUTH_CACHE_SECONDS = 10
    clock = Clock()
    tokens = AcceptedTokens(max_entries=2, clock=clock)
    for name in ("a", "b"):
        tokens.put(name, UserFactory.build(), {"exp": clock.now + 60})
    assert tokens.get("a") is not None  # "b" is now the least recent
    tokens.put("c", UserFactory.build(), {"exp": clock.now + 60})
    assert len(tokens) == 2
    assert tokens.get("b") is None
    assert tokens.get("a") is not None


def test_authcache_gives_each_request_its_own_instance(settings):
    """Attributes set on one request's user do not leak into the next."""
    settings.ACCOUNTS_AUTH_CACHE_SECONDS = 10
    tokens = AcceptedTokens()
    tokens.put("t", UserFactory.build(), {"exp": time.time() + 60})
    first, _claims = tokens.get("t")
    first.display_name = "changed by a view"
    second, _claims = tokens.get("t")
    assert second.display_name != "changed by a view"
    assert first is not second


def test_authcache_instance_is_an_equal_user_with_its_own_state(settings):
    """The remembered user comes back equal, saved, with no shared relation cache."""
    settings.ACCOUNTS_AUTH_CACHE_SECONDS = 10
    tokens = AcceptedTokens()
    user = UserFactory()
    user._state.fields_cache["sentinel"] = object()  # noqa: SLF001
    tokens.put("t", user, {"exp": time.time() + 60})

    clone, _claims = tokens.get("t")

    assert type(clone) is User
    assert clone == user
    assert (clone.email, clone.sub, clone.is_active) == (
        user.email,
        user.sub,
        user.is_active,
    )
    assert clone._state is not user._state  # noqa: SLF001
    assert clone._state.db == user._state.db  # noqa: SLF001
    assert clone._state.adding is False  # noqa: SLF001
    assert clone._state.fields_cache == {}  # noqa: SLF001
    assert "sentinel" in user._state.fields_cache  # noqa: SLF001


def test_authcache_forget_user_drops_only_that_user(settings):
    """Forgetting one user keeps the others' entries."""
    settings.ACCOUNTS_AUTH_CACHE_SECONDS = 10
    tokens = AcceptedTokens()
    ada, bob = UserFactory.build(), UserFactory.build()
    tokens.put("ada", ada, {"exp": time.time() + 60})
    tokens.put("bob", bob, {"exp": time.time() + 60})
    tokens.forget_user(ada.pk)
    assert tokens.get("ada") is None
    assert tokens.get("bob") is not None


def test_authcache_deleted_account_not_served_from_memory(user, bearer_client):
    """After deleting the account, its token is checked again, not answered as
    the deleted user (it signs in afresh, as any first sign-in does)."""
    client = bearer_client(user)
    old_id = client.get(ME).json()["id"]
    assert client.delete(ME).status_code == 204
    response = client.get(ME)
    assert response.json()["id"] != old_id
    assert not User.objects.filter(pk=old_id).exists()

"""User provisioning rules: email ownership, hooks, relinking, races."""

import threading
import time

import pytest
from rest_framework.test import APIClient

from accounts import local_issuer, registry
from accounts.models import User
from accounts.services import user_authenticate, user_set_verified_email
from accounts.tests.factories import UserFactory
from accounts.tokens import TokenError

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook_calls():
    """Record verified-email hook calls for the duration of a test."""
    calls: list[str] = []

    def hook(user):
        calls.append(user.email)

    registry.register_verified_email_hook(hook)
    yield calls
    registry._verified_email_hooks.remove(hook)


def _id_claims(sub: str, email: str, verified: bool = True) -> dict:
    now = int(time.time())
    return {
        "sub": sub,
        "token_use": "id",
        "email": email,
        "email_verified": "true" if verified else "false",
        "iat": now,
        "exp": now + 60,
    }


def test_user_authenticate_new_verified_email_runs_hooks(hook_calls):
    """Creating a user with a verified email runs the verified-email hooks."""
    user = user_authenticate(claims=_id_claims("s1", "a@example.com"), token="t")
    assert user.email == "a@example.com"
    assert hook_calls == ["a@example.com"]


def test_user_authenticate_unverified_email_is_not_stored(hook_calls):
    """An unverified email is neither stored nor announced."""
    user = user_authenticate(
        claims=_id_claims("s2", "b@example.com", verified=False), token="t"
    )
    assert user.email is None
    assert hook_calls == []


def test_user_authenticate_changed_verified_email_updates_and_runs_hooks(hook_calls):
    """A new verified email replaces the old one and runs the hooks."""
    user = UserFactory(sub="s3", email="old@example.com")
    user_authenticate(claims=_id_claims("s3", "new@example.com"), token="t")
    user.refresh_from_db()
    assert user.email == "new@example.com"
    assert hook_calls == ["new@example.com"]


def test_user_authenticate_same_email_runs_no_hooks(hook_calls):
    """An unchanged email does not run the hooks again."""
    UserFactory(sub="s4", email="same@example.com")
    user_authenticate(claims=_id_claims("s4", "SAME@example.com"), token="t")
    assert hook_calls == []


def test_user_authenticate_email_of_other_sub_creates_user_without_email():
    """A new sub with an email held by another account gets no email."""
    UserFactory(sub="owner", email="taken@example.com")
    user = user_authenticate(
        claims=_id_claims("intruder", "taken@example.com"), token="t"
    )
    assert user.sub == "intruder"
    assert user.email is None
    assert User.objects.get(sub="owner").email == "taken@example.com"


def test_user_authenticate_relinks_row_without_sub(hook_calls):
    """A row created before sign-in (no sub) is linked by verified email."""
    invited = UserFactory(sub=None, email="invited@example.com")
    user = user_authenticate(claims=_id_claims("s5", "Invited@example.com"), token="t")
    assert user.pk == invited.pk
    assert user.sub == "s5"
    assert User.objects.count() == 1
    assert hook_calls == ["invited@example.com"]


def test_user_authenticate_unverified_email_does_not_relink():
    """An unverified email cannot take over a row without sub."""
    invited = UserFactory(sub=None, email="victim@example.com")
    user = user_authenticate(
        claims=_id_claims("s6", "victim@example.com", verified=False), token="t"
    )
    assert user.pk != invited.pk
    assert User.objects.get(pk=invited.pk).sub is None


def _access_claims(sub: str) -> dict:
    now = int(time.time())
    return {"sub": sub, "token_use": "access", "scope": "openid", "iat": now}


def test_user_authenticate_id_claims_of_same_sign_in_give_email(hook_calls):
    """An access token with its sign-in's verified ID token stores that email."""
    user = user_authenticate(
        claims=_access_claims("s8"),
        token="t",
        id_claims=_id_claims("s8", "web@example.com"),
    )
    assert user.email == "web@example.com"
    assert user.is_email_verified is True
    assert hook_calls == ["web@example.com"]


def test_user_authenticate_id_claims_unverified_email_not_stored():
    """An ID token whose email is not verified gives no email."""
    user = user_authenticate(
        claims=_access_claims("s9"),
        token="t",
        id_claims=_id_claims("s9", "nope@example.com", verified=False),
    )
    assert user.email is None


def test_user_authenticate_id_claims_of_other_sub_refused():
    """An ID token of another user is refused, and no user is created."""
    with pytest.raises(TokenError) as refused:
        user_authenticate(
            claims=_access_claims("s10"),
            token="t",
            id_claims=_id_claims("someone-else", "x@example.com"),
        )
    assert refused.value.code == "token_invalid"
    assert not User.objects.filter(sub__in=["s10", "someone-else"]).exists()


def test_user_set_verified_email_taken_is_refused():
    """Changing to an address held by another user keeps the old one."""
    UserFactory(email="held@example.com")
    user = UserFactory(email="mine@example.com")
    assert user_set_verified_email(user=user, email="held@example.com") is False
    user.refresh_from_db()
    assert user.email == "mine@example.com"


def test_user_authenticate_broken_hook_does_not_lock_out():
    """A failing hook is logged; the sign-in still succeeds."""

    def broken(user):
        raise RuntimeError("boom")

    registry.register_verified_email_hook(broken)
    try:
        user = user_authenticate(claims=_id_claims("s7", "h@example.com"), token="t")
    finally:
        registry._verified_email_hooks.remove(broken)
    assert user.email == "h@example.com"


@pytest.mark.slow
@pytest.mark.postgresql  # real concurrent connections
@pytest.mark.django_db(transaction=True)
def test_user_authenticate_concurrent_first_requests_create_one_row():
    """Ten concurrent first requests with one new sub make exactly one row."""
    token = local_issuer.issue_token(sub="race-sub", email="race@example.com", use="id")
    barrier = threading.Barrier(10, timeout=10)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        from django.db import connections

        try:
            barrier.wait()
            client = APIClient()
            response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
            with lock:
                statuses.append((response.status_code, response.content))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [s for s, _ in statuses] == [200] * 10, statuses[:2]
    assert User.objects.filter(sub="race-sub").count() == 1
    assert User.objects.filter(email="race@example.com").count() == 1

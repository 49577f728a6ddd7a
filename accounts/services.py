"""Writes on users: provisioning from tokens, profile, sign-out, deletion."""

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import registry
from accounts.adapters import cognito
from accounts.models import AccountTombstone, User
from accounts.selectors import user_get_by_sub
from accounts.tokens import TokenError, local_issuer_enabled
from project.exceptions import ApplicationError

logger = logging.getLogger(__name__)


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


# Cognito answers GetUser only for an access token carrying this scope. SDK
# sign-ins (InitiateAuth) get it; hosted-UI tokens carry only the scopes the
# app asked for, and the app clients allow only ``openid email profile``.
COGNITO_USER_ADMIN_SCOPE = "aws.cognito.signin.user.admin"


def _verified_email(claims: dict[str, Any]) -> str | None:
    email = claims.get("email")
    if isinstance(email, str) and email and _is_true(claims.get("email_verified")):
        return email.strip()
    return None


def _verified_email_from_claims(claims: dict[str, Any]) -> str | None:
    """Return the email of a verified ID token, else None."""
    if claims.get("token_use") != "id":
        return None
    return _verified_email(claims)


def _may_ask_cognito_for_email(claims: dict[str, Any]) -> bool:
    """Return whether Cognito would answer GetUser for this access token."""
    if claims.get("token_use") != "access":
        return False
    scope = claims.get("scope")
    return isinstance(scope, str) and COGNITO_USER_ADMIN_SCOPE in scope.split()


def _cognito_username(claims: dict[str, Any]) -> str:
    name = claims.get("username") or claims.get("cognito:username") or ""
    return name if isinstance(name, str) else ""


def _verified_email_from_cognito(token: str) -> str | None:
    """Ask Cognito for the email of an access-token user (``GetUser``)."""
    if local_issuer_enabled():
        return None
    try:
        attributes = cognito.user_attributes(access_token=token)
    except cognito.CognitoError as exc:
        logger.warning("Cognito GetUser failed (%s); email left unknown", exc)
        return None
    email = attributes.get("email")
    if email and _is_true(attributes.get("email_verified")):
        return email.strip()
    return None


def _run_hooks(user: User) -> None:
    try:
        registry.run_verified_email_hooks(user)
    except Exception:
        # A broken hook must not lock the user out of the API.
        logger.exception("verified-email hook failed for user %s", user.pk)


def user_set_verified_email(*, user: User, email: str) -> bool:
    """Store ``email`` as the user's verified email; return whether it changed.

    An address already held by another account is not stored (the new account
    stays without email until staff resolve it): email is unique, and moving
    it silently would hand the other account's invitations to this one.
    """
    if user.email and user.email.lower() == email.lower() and user.is_email_verified:
        return False
    taken = User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists()
    if taken:
        logger.warning("verified email of user %s is used by another user", user.pk)
        return False
    try:
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(
                email=email, is_email_verified=True, updated_at=timezone.now()
            )
    except IntegrityError:
        return False
    user.email, user.is_email_verified = email, True
    _run_hooks(user)
    return True


def _user_create(
    *,
    sub: str,
    claims: dict[str, Any],
    email: str | None,
    tokens_valid_after: datetime | None = None,
) -> User:
    """Create the user for ``sub`` once, whatever the concurrency."""
    username = _cognito_username(claims)
    if email:
        holder = User.objects.filter(email__iexact=email).first()
        if holder is not None and holder.sub is None:
            # A row made before its first sign-in (admin, dev_bootstrap):
            # link it, since the address is verified by the issuer.
            linked = User.objects.filter(pk=holder.pk, sub__isnull=True).update(
                sub=sub,
                cognito_username=username,
                is_email_verified=True,
                updated_at=timezone.now(),
            )
            if linked:
                holder.refresh_from_db()
                _run_hooks(holder)
                return holder
        elif holder is not None:
            logger.warning("new user %s has the verified email of another user", sub)
            email = None
    for candidate_email in (email, None) if email else (None,):
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    email=candidate_email,
                    sub=sub,
                    cognito_username=username,
                    is_email_verified=bool(candidate_email),
                    last_seen_at=timezone.now(),
                    tokens_valid_after=tokens_valid_after,
                )
        except IntegrityError:
            existing = User.objects.filter(sub=sub).first()
            if existing is not None:
                return existing  # a concurrent request created it first
            continue  # the email was taken meanwhile: create without it
        if candidate_email:
            _run_hooks(user)
        return user
    return User.objects.get(sub=sub)


def _issued_at(claims: dict[str, Any]) -> float:
    """Return when the token's session began: the earlier of ``iat``/``auth_time``.

    A refreshed Cognito token has a new ``iat`` but keeps the ``auth_time``
    of the sign-in it descends from; either being before a cutoff means the
    token belongs to a session that the cutoff ended.
    """
    times = [claims["iat"], claims.get("auth_time", claims["iat"])]
    return float(min(int(t) for t in times if isinstance(t, int | float)))


def _refused_before(cutoff: datetime | None, issued_at: float) -> bool:
    return cutoff is not None and issued_at <= cutoff.timestamp()


def _latest_tombstone(sub: str) -> datetime | None:
    return (
        AccountTombstone.objects.filter(sub=sub)
        .order_by("-deleted_at")
        .values_list("deleted_at", flat=True)
        .first()
    )


def _account_deleted() -> TokenError:
    return TokenError(_("This account has been deleted."), "account_deleted")


def user_authenticate(
    *, claims: dict[str, Any], token: str, id_claims: dict[str, Any] | None = None
) -> User:
    """Return the user for verified ``claims``, creating or updating the row.

    Called on every request: the account's state is read, never remembered.
    The common case is one indexed query (the user row by ``sub``, with its
    state: ``is_active`` and ``tokens_valid_after``). Refuse inactive users,
    tokens issued at or before the sign-out cutoff, and tokens of a deleted
    account (its tombstone; an account created again after a deletion gets
    the deletion time as its cutoff, so old tokens stay refused without a
    second query). Writes happen only when something changed, plus
    ``last_seen_at`` at most once per ``ACCOUNTS_LAST_SEEN_INTERVAL_SECONDS``.

    ``id_claims`` are the verified ID token of the same sign-in (the web
    app's hosted-UI sign-in, whose access token cannot call GetUser): the
    email comes from its ``email`` and ``email_verified`` claims.
    """
    sub = claims["sub"]
    issued_at = _issued_at(claims)
    email = _verified_email_from_claims(claims)
    if id_claims is not None:
        if id_claims.get("sub") != sub:
            raise TokenError(_("The ID token is of another user."))
        email = email or _verified_email(id_claims)
    user = user_get_by_sub(sub=sub)
    created = user is None
    if user is None:
        deleted_at = _latest_tombstone(sub)
        if _refused_before(deleted_at, issued_at):
            raise _account_deleted()
        if email is None and _may_ask_cognito_for_email(claims):
            email = _verified_email_from_cognito(token)
        user = _user_create(
            sub=sub, claims=claims, email=email, tokens_valid_after=deleted_at
        )
    if not user.is_active:
        raise TokenError(_("This account is disabled."), "user_inactive")
    if _refused_before(user.tokens_valid_after, issued_at):
        if _refused_before(_latest_tombstone(sub), issued_at):
            raise _account_deleted()
        raise TokenError(_("The token has been revoked."), "token_revoked")
    _user_sync(user=user, claims=claims, token=token, email=email, created=created)
    return user


def _user_sync(
    *,
    user: User,
    claims: dict[str, Any],
    token: str,
    email: str | None,
    created: bool,
) -> None:
    changes: dict[str, Any] = {}
    staff_group = settings.COGNITO_STAFF_GROUP
    if staff_group:
        groups = claims.get("cognito:groups") or []
        is_staff = isinstance(groups, list) and staff_group in groups
        if user.is_staff != is_staff:
            changes["is_staff"] = is_staff
    username = _cognito_username(claims)
    if username and user.cognito_username != username:
        changes["cognito_username"] = username
    now = timezone.now()
    interval = timedelta(seconds=settings.ACCOUNTS_LAST_SEEN_INTERVAL_SECONDS)
    seen_due = user.last_seen_at is None or user.last_seen_at <= now - interval
    if changes:
        for name, value in changes.items():
            setattr(user, name, value)
        User.objects.filter(pk=user.pk).update(**changes, updated_at=now)
    if seen_due and not created:
        # Conditional: concurrent requests of one user write it once.
        User.objects.filter(pk=user.pk).filter(
            Q(last_seen_at__isnull=True) | Q(last_seen_at__lte=now - interval)
        ).update(last_seen_at=now)
        user.last_seen_at = now
        if email is None and not user.email and _may_ask_cognito_for_email(claims):
            # Bounded retry for access-token users whose email is unknown.
            email = _verified_email_from_cognito(token)
    if email:
        user_set_verified_email(user=user, email=email)


def user_update_profile(*, user: User, display_name: str | None = None) -> User:
    """Change the user's editable profile fields (those given; none is no change)."""
    if display_name is None:
        return user
    user.display_name = display_name.strip()
    user.full_clean(exclude=["password", "email", "sub"])
    user.save(update_fields=["display_name", "updated_at"])
    return user


def user_sign_out_everywhere(*, user: User) -> None:
    """Refuse every token issued to ``user`` until now, and sign out of Cognito.

    The cutoff is written first, so the API refuses old tokens even if Cognito
    cannot be reached; the caller then gets a 503 and may retry.
    """
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(tokens_valid_after=now, updated_at=now)
    user.tokens_valid_after = now
    if local_issuer_enabled() or not user.cognito_username:
        return
    try:
        cognito.global_sign_out(username=user.cognito_username)
    except cognito.CognitoError:
        logger.warning("Cognito global sign-out failed for user %s", user.pk)
        raise ApplicationError(
            _("Signed out here, but Cognito could not be reached; try again."),
            code="cognito_unavailable",
            status=503,
        ) from None


def _cognito_delete(tombstone_id: Any) -> bool:
    """Delete the tombstone's Cognito user; return whether Cognito confirmed."""
    tombstone = AccountTombstone.objects.filter(pk=tombstone_id).first()
    if tombstone is None or not tombstone.cognito_username:
        return True
    try:
        cognito.delete_user(username=tombstone.cognito_username)
    except cognito.CognitoError:
        logger.warning(
            "Cognito user deletion failed for tombstone %s; "
            "purge_account_tombstones retries it",
            tombstone.pk,
        )
        return False
    AccountTombstone.objects.filter(pk=tombstone.pk).update(
        cognito_username="", cognito_deleted_at=timezone.now()
    )
    return True


# How long the deletion waits for one row lock before it lets go of all of
# its locks and starts again (PostgreSQL ``lock_timeout``), and how often.
DELETE_LOCK_TIMEOUT_MS = 200
DELETE_ATTEMPTS = 10


def _lock_not_available(error: OperationalError) -> bool:
    """Return whether PostgreSQL refused a lock (``lock_timeout``, deadlock)."""
    return getattr(error.__cause__, "sqlstate", None) in {"55P03", "40P01"}


def user_delete(
    *,
    user: User,
    deleted_by: str = AccountTombstone.DeletedBy.USER,
) -> AccountTombstone | None:
    """Delete the account and everything each app stored for it.

    The user row is locked first: a concurrent request that still holds the
    user and writes a row pointing at it waits, then fails its foreign key
    (answered 401 ``account_deleted`` by ``ApiErrorMiddleware``) instead of
    leaving a row behind or breaking this deletion. Contributors delete their
    rows inside this transaction and schedule their file deletions with
    ``on_commit``; a tombstone records the ``sub`` and the time, so tokens
    issued until now are refused from the commit on. The Cognito user goes
    after the commit (a failure is retried by ``purge_account_tombstones``).
    Returns the tombstone (None for an account that never signed in or was
    already deleted).

    A request of the user may hold a row this deletion needs (an AI quota
    counter) while it waits for the user row: on PostgreSQL the deletion
    waits at most ``DELETE_LOCK_TIMEOUT_MS`` for any lock, then rolls back,
    letting that request finish, and starts again (``DELETE_ATTEMPTS``
    times, then 503 ``account_busy``), so that it is never the other
    request that fails.
    """
    for attempt in range(DELETE_ATTEMPTS):
        try:
            return _user_delete_once(user=user, deleted_by=deleted_by)
        except OperationalError as error:
            if not _lock_not_available(error):
                raise
            logger.info("account deletion of %s waited too long; retrying", user.pk)
            time.sleep(0.02 * (attempt + 1))
    raise ApplicationError(
        _("The account is busy; try deleting it again."),
        code="account_busy",
        status=503,
    )


@transaction.atomic
def _user_delete_once(*, user: User, deleted_by: str) -> AccountTombstone | None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)",
                [f"{DELETE_LOCK_TIMEOUT_MS}ms"],
            )
    locked = User.objects.select_for_update().filter(pk=user.pk).first()
    if locked is None:
        return None  # deleted meanwhile by another request
    tombstone = None
    if locked.sub:
        # Cognito accepts the sub where a user name is asked for.
        username = locked.cognito_username or locked.sub
        tombstone = AccountTombstone.objects.create(
            sub=locked.sub,
            deleted_at=timezone.now(),
            deleted_by=deleted_by,
            cognito_username="" if local_issuer_enabled() else username,
        )
    for contributor in registry.contributors():
        contributor.delete(locked)
    User.objects.filter(pk=locked.pk).delete()
    if tombstone is not None and tombstone.cognito_username:
        pk = tombstone.pk
        transaction.on_commit(lambda: _cognito_delete(pk), robust=True)
    return tombstone


def tombstones_retention() -> timedelta:
    """Return how long tombstones are kept: the setting, never under a day.

    A day is the longest lifetime Cognito allows ID and access tokens (and
    longer than the local issuer's tokens); a tombstone purged earlier could
    let a still-valid token of a deleted account sign in again.
    """
    return max(
        timedelta(days=settings.ACCOUNTS_TOMBSTONE_RETENTION_DAYS), timedelta(days=1)
    )


def tombstones_purge(*, now: datetime | None = None) -> tuple[int, int]:
    """Retry pending Cognito deletions, then erase tombstones past retention.

    Returns ``(Cognito users deleted now, tombstones erased)``. A tombstone
    whose Cognito user could not be deleted yet is kept, whatever its age.
    """
    now = now or timezone.now()
    retried = 0
    pending = AccountTombstone.objects.filter(cognito_deleted_at__isnull=True).exclude(
        cognito_username=""
    )
    for pk in pending.values_list("pk", flat=True).iterator():
        if _cognito_delete(pk):
            retried += 1
    erased, _per_model = (
        AccountTombstone.objects.filter(deleted_at__lt=now - tombstones_retention())
        .filter(cognito_username="")
        .delete()
    )
    return retried, erased


def user_provision_local(*, email: str, is_staff: bool = False) -> User:
    """Return the local-issuer user for ``email``, creating it if needed.

    Used by ``issue_dev_token`` and ``dev_bootstrap``: the row gets the stable
    local ``sub`` of its address so that tokens map straight to it.
    """
    from accounts import local_issuer

    email = email.strip()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = _user_create(
            sub=local_issuer.sub_for_email(email), claims={}, email=email
        )
    elif not user.sub:
        user.sub = local_issuer.sub_for_email(email)
        user.save(update_fields=["sub", "updated_at"])
    if is_staff and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff", "updated_at"])
    return user

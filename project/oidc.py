"""Staff sign-in to the admin with Cognito (OpenID Connect code flow + PKCE).

With ``COGNITO_DOMAIN`` and ``COGNITO_ADMIN_CLIENT_ID`` set, ``/admin/login/``
sends staff to the Cognito hosted UI through mozilla-django-oidc; the ID token
is verified here (RS256 only, issuer, audience, expiry, nonce), the user is
matched by Cognito ``sub`` and must be in ``COGNITO_STAFF_GROUP``. Django
passwords are then not accepted (``AUTHENTICATION_BACKENDS`` holds only this
backend). Without those settings the admin keeps Django's password form.
"""

import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.admin import site as admin_site
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

import jwt
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

logger = logging.getLogger(__name__)


def admin_oidc_enabled() -> bool:
    """Return whether the admin signs staff in through Cognito."""
    return bool(getattr(settings, "ADMIN_OIDC_ENABLED", False))


def _groups(claims: dict[str, Any]) -> list[str]:
    groups = claims.get("cognito:groups") or []
    if isinstance(groups, str):
        groups = groups.split()
    return [str(group) for group in groups]


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class StaffOIDCBackend(OIDCAuthenticationBackend):
    """Sign staff in from a Cognito ID token; refuse everyone else."""

    def get_payload_data(self, token: str, key: Any) -> dict[str, Any]:
        """Verify the ID token fully: RS256, issuer, audience, expiry, type."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise SuspiciousOperation("Malformed ID token.") from None
        if header.get("alg") != "RS256":
            raise SuspiciousOperation("ID token algorithm is not RS256.")
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_OP_ISSUER,
                leeway=settings.OIDC_LEEWAY,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise SuspiciousOperation(
                f"ID token verification failed ({type(error).__name__})."
            ) from None
        if payload.get("token_use", "id") != "id":
            raise SuspiciousOperation("Token is not an ID token.")
        return payload

    def get_userinfo(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Return the userinfo claims with the verified ID token's on top.

        Cognito's userInfo endpoint omits ``cognito:groups``; the ID token
        carries it.
        """
        return {**super().get_userinfo(access_token, id_token, payload), **payload}

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        """Accept only verified staff: a sub, an email, the staff group."""
        if not claims.get("sub") or not claims.get("email"):
            return False
        if settings.COGNITO_STAFF_GROUP not in _groups(claims):
            # Left the group in Cognito: no longer staff here either.
            self.UserModel.objects.filter(sub=claims["sub"], is_staff=True).update(
                is_staff=False
            )
            logger.warning(
                "admin sign-in refused: sub %s is not in the staff group",
                claims.get("sub"),
            )
            return False
        return True

    def filter_users_by_claims(self, claims: dict[str, Any]):
        """Match by Cognito sub; else an account with that email and no sub yet."""
        users = self.UserModel.objects.filter(sub=claims["sub"])
        if users.exists():
            return users
        return self.UserModel.objects.filter(
            sub__isnull=True, email__iexact=claims["email"]
        )

    @transaction.atomic
    def create_user(self, claims: dict[str, Any]):
        """Create the staff user for a first Cognito sign-in."""
        return get_user_model().objects.create_user(
            email=claims["email"],
            sub=claims["sub"],
            is_staff=True,
            is_email_verified=_is_true(claims.get("email_verified")),
        )

    def update_user(self, user, claims: dict[str, Any]):
        """Link the sub and keep staff status in step with the Cognito group."""
        user.sub = claims["sub"]
        user.is_staff = settings.COGNITO_STAFF_GROUP in _groups(claims)
        if _is_true(claims.get("email_verified")):
            user.is_email_verified = True
        user.save(update_fields=["sub", "is_staff", "is_email_verified", "updated_at"])
        return user


def admin_login(request: HttpRequest) -> HttpResponse:
    """Send staff to Cognito when configured, else show Django's sign-in form."""
    if not admin_oidc_enabled():
        return admin_site.login(request)
    if request.user.is_authenticated and request.user.is_staff:
        return HttpResponseRedirect(reverse("admin:index"))
    if "failed" in request.GET:
        return render(
            request,
            "admin/oidc_failed.html",
            {**admin_site.each_context(request), "title": "Sign-in refused"},
            status=403,
        )
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("admin:index")
    target = reverse("oidc_authentication_init")
    return HttpResponseRedirect(f"{target}?{urlencode({'next': next_url})}")

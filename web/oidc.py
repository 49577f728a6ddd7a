"""End-user sign-in with the Cognito hosted UI: authorization code + PKCE.

The web app's Cognito app client is public (no secret: ``COGNITO_WEB_CLIENT_ID``,
which must also be in ``COGNITO_AUDIENCE``). mozilla-django-oidc does the
protocol (authorize redirect with state, nonce and PKCE; the code exchange;
the ID token's signature and nonce), configured here for that client instead
of the admin's. The access token is then checked by the API's own validator
and account rules, and kept with the refresh token in the server-side session
(:mod:`web.session`): page scripts never see a token.

The scopes are exactly the ones the infra's public app client allows
(``openid email profile``); Cognito refuses any other with ``invalid_scope``.
Without ``aws.cognito.signin.user.admin`` the access token cannot call
Cognito's GetUser, so the verified email comes from the ID token's claims.
"""

import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

import requests
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from accounts.tokens import TokenError, get_validator
from project.oidc import StaffOIDCBackend
from web.session import web_session_start

logger = logging.getLogger(__name__)

# The scopes the public app client allows (infra/quire_infra/identity.py).
WEB_SCOPES = "openid email profile"


def web_oidc_enabled() -> bool:
    """Return whether end users sign in through the Cognito hosted UI."""
    return bool(settings.COGNITO_DOMAIN and settings.COGNITO_WEB_CLIENT_ID)


def _web_setting(attr: str, *args: Any) -> Any:
    """Return mozilla-django-oidc's setting ``attr`` for the web app's client."""
    overrides = {
        "OIDC_RP_CLIENT_ID": settings.COGNITO_WEB_CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": "",
        "OIDC_TOKEN_USE_BASIC_AUTH": False,
        "OIDC_USE_PKCE": True,
        "OIDC_RP_SCOPES": WEB_SCOPES,
        "OIDC_AUTHENTICATION_CALLBACK_URL": "web:oidc-callback",
    }
    if attr in overrides:
        return overrides[attr]
    return import_from_settings(attr, *args)


class WebOIDCBackend(StaffOIDCBackend):
    """Exchange the code for the web client's tokens and check them (not a Django backend)."""

    get_settings = staticmethod(_web_setting)

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: D107
        super().__init__(*args, **kwargs)
        self.access_token = ""
        self.refresh_token = ""

    def get_token(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the token endpoint's answer; a public client sends no secret."""
        payload = {k: v for k, v in payload.items() if k != "client_secret" or v}
        info = super().get_token(payload)
        self.refresh_token = info.get("refresh_token") or self.refresh_token
        return info

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        """Accept any verified Cognito user (the staff rule is the admin's)."""
        return bool(claims.get("sub"))

    def get_or_create_user(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> Any:
        """Return the API's user for the access token, by the API's own checks.

        ``payload`` is the ID token, verified by mozilla-django-oidc (signature,
        issuer, audience, nonce): it carries the verified email.
        """
        from accounts.services import user_authenticate

        try:
            claims = get_validator().validate(access_token)
            user = user_authenticate(
                claims=claims, token=access_token, id_claims=payload
            )
        except TokenError as exc:
            raise SuspiciousOperation(f"access token refused ({exc.code})") from None
        self.access_token = access_token
        return user

    def refresh(self, refresh_token: str) -> str:
        """Return a new access token for ``refresh_token`` (raise if refused)."""
        info = self.get_token(
            {
                "grant_type": "refresh_token",
                "client_id": self.OIDC_RP_CLIENT_ID,
                "refresh_token": refresh_token,
            }
        )
        return info["access_token"]


class WebSignInStartView(OIDCAuthenticationRequestView):
    """Send the visitor to the Cognito hosted UI (state, nonce, PKCE)."""

    get_settings = staticmethod(_web_setting)


def sign_in_start(request: HttpRequest) -> HttpResponse:
    """Start the hosted-UI sign-in, when it is configured."""
    if not web_oidc_enabled():
        raise Http404("Cognito sign-in is not configured.")
    return WebSignInStartView.as_view()(request)


def _failed(request: HttpRequest) -> HttpResponse:
    return render(request, "web/signin_failed.html", status=400)


def sign_in_callback(request: HttpRequest) -> HttpResponse:
    """Finish the hosted-UI sign-in: check the state, exchange the code once."""
    if not web_oidc_enabled():
        raise Http404("Cognito sign-in is not configured.")
    state = request.GET.get("state", "")
    states = request.session.get("oidc_states") or {}
    entry = states.pop(state, None)
    request.session["oidc_states"] = states  # each state is used at most once
    if entry is None or request.GET.get("error") or not request.GET.get("code"):
        return _failed(request)
    backend = WebOIDCBackend()
    try:
        user = backend.authenticate(
            request, nonce=entry.get("nonce"), code_verifier=entry.get("code_verifier")
        )
    except (SuspiciousOperation, requests.RequestException, KeyError, ValueError):
        logger.warning("web sign-in refused at the callback", exc_info=True)
        user = None
    if user is None or not user.is_active or not backend.access_token:
        return _failed(request)
    next_url = request.session.get("oidc_login_next") or reverse("web:app")
    web_session_start(
        request=request,
        user=user,
        token=backend.access_token,
        refresh_token=backend.refresh_token,
    )
    return HttpResponseRedirect(next_url)


def web_session_refresh(*, refresh_token: str) -> str | None:
    """Return a fresh access token from Cognito, or None when refused."""
    try:
        return WebOIDCBackend().refresh(refresh_token)
    except (SuspiciousOperation, requests.RequestException, KeyError, ValueError):
        logger.info("web session refresh refused")
        return None


def cognito_logout_url(request: HttpRequest) -> str:
    """Return the hosted UI's logout URL, which comes back to the app."""
    query = urlencode(
        {
            "client_id": settings.COGNITO_WEB_CLIENT_ID,
            "logout_uri": request.build_absolute_uri(reverse("web:app")),
        }
    )
    return f"{settings.COGNITO_DOMAIN}/logout?{query}"

"""DRF authentication for the web app's session (backend-for-frontend).

The session holds an access token (:mod:`web.session`); each request checks it
exactly as a bearer token is checked (signature, expiry, account disabled,
signed out everywhere) through ``accounts``' public functions, and unsafe
methods must carry the CSRF token (DRF's ``SessionAuthentication`` check).
A session whose account was deleted is refused, and an expired Cognito
token is renewed with the session's refresh token unless the user signed
out everywhere since the session began.
"""

import math
from typing import Any

from django.utils.translation import gettext_lazy as _

from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from accounts.tokens import TokenError, get_validator
from web import oidc
from web.session import (
    web_session_end,
    web_session_refresh_token,
    web_session_replace_token,
    web_session_started_at,
    web_session_token,
    web_session_user_id,
)


class _BodyUnread:
    """The request as the CSRF check sees it, its body left unread.

    Django's CSRF check reads a POST's form data for the token before the
    header: that would parse a multipart upload before the view installs its
    streaming upload handler, and make DRF parse bodies of views that parse
    nothing (the async AI views: a 415). Shown to the check as a PUT, a
    POST's token must come from the ``X-CSRFToken`` header (the web app
    sends it there, and the API takes JSON, not forms); the Origin and
    Referer checks are the same.
    """

    method = "PUT"

    def __init__(self, request: Request) -> None:  # noqa: D107
        self.request = request

    def __getattr__(self, name: str) -> Any:
        return getattr(self.request, name)


def _ended(request: Request, detail: Any, code: str) -> exceptions.AuthenticationFailed:
    web_session_end(request=request)
    return exceptions.AuthenticationFailed(detail, code=code)


class WebSessionAuthentication(SessionAuthentication):
    """Authenticate the web app's session cookie; 401 when its token is no good."""

    def authenticate(self, request: Request) -> tuple[Any, dict[str, Any]] | None:
        """Return ``(user, claims)``; None without a web session; else raise 401."""
        # DRF's Request hands attribute reads (``session``) to Django's.
        token = web_session_token(request)
        if token is None:
            return None
        from accounts.selectors import user_get
        from accounts.services import user_authenticate

        user_id = web_session_user_id(request)
        stored = user_get(user_id=user_id) if user_id else None
        if stored is None:
            # The account was deleted: its token must not re-create it.
            raise _ended(
                request, _("This session has ended; sign in again."), "session_ended"
            )
        try:
            try:
                claims = get_validator().validate(token)
            except TokenError as exc:
                token = self._renewed(request, stored, exc)
                claims = get_validator().validate(token)
            user = user_authenticate(claims=claims, token=token)
        except TokenError as exc:
            raise _ended(request, exc.detail, exc.code) from None
        if str(user.pk) != user_id:
            raise _ended(
                request, _("This session has ended; sign in again."), "session_ended"
            )
        self.enforce_csrf(_BodyUnread(request) if request.method == "POST" else request)
        return user, claims

    def _renewed(self, request: Request, user: Any, error: TokenError) -> str:
        """Return a renewed access token, or raise ``error`` again."""
        refresh_token = web_session_refresh_token(request)
        if error.code != "token_expired" or not refresh_token:
            raise error
        if not oidc.web_oidc_enabled():
            raise error
        cutoff = user.tokens_valid_after
        if cutoff is not None and web_session_started_at(request) < math.ceil(
            cutoff.timestamp()
        ):
            raise TokenError(_("The token has been revoked."), "token_revoked")
        token = oidc.web_session_refresh(refresh_token=refresh_token)
        if token is None:
            raise error
        web_session_replace_token(request=request, token=token)
        return token

"""The web app's server-side session: which token it holds, for whom.

Backend-for-frontend: the browser holds only Django's HttpOnly session
cookie; the access token (and, with Cognito, the refresh token) stay in the
session row on the server. The API accepts that session
(:mod:`web.authentication`) through the same token checks as a bearer token.
"""

import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest

TOKEN_KEY = "web_access_token"  # noqa: S105 - a session key
REFRESH_KEY = "web_refresh_token"  # noqa: S105 - a session key
USER_KEY = "web_user_id"
STARTED_KEY = "web_signed_in_at"


def web_session_start(
    *, request: HttpRequest, user: Any, token: str, refresh_token: str = ""
) -> None:
    """Sign the browser in: a new session id, holding the user's tokens."""
    request.session.cycle_key()  # no session fixation
    request.session[TOKEN_KEY] = token
    request.session[USER_KEY] = str(user.pk)
    request.session[STARTED_KEY] = int(time.time())
    if refresh_token:
        request.session[REFRESH_KEY] = refresh_token
    request.session.set_expiry(settings.WEB_SESSION_SECONDS)


def web_session_end(*, request: HttpRequest) -> None:
    """Forget the browser's session (its row and cookie)."""
    request.session.flush()


def web_session_token(request: HttpRequest) -> str | None:
    """Return the access token of the browser's session, if it has one."""
    session = getattr(request, "session", None)
    if session is None:
        return None
    return session.get(TOKEN_KEY) or None


def web_session_user_id(request: HttpRequest) -> str | None:
    """Return the id of the user the session was started for."""
    session = getattr(request, "session", None)
    return None if session is None else session.get(USER_KEY)


def web_session_refresh_token(request: HttpRequest) -> str | None:
    """Return the session's refresh token (Cognito sign-in only)."""
    return request.session.get(REFRESH_KEY) or None


def web_session_started_at(request: HttpRequest) -> int:
    """Return when the session was signed in (seconds since the epoch)."""
    return int(request.session.get(STARTED_KEY) or 0)


def web_session_replace_token(*, request: HttpRequest, token: str) -> None:
    """Keep a refreshed access token in the session."""
    request.session[TOKEN_KEY] = token

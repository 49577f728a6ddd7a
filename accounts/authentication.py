"""DRF authentication for Cognito (and local-issuer) JWTs.

Built on django-cognito-jwt's ``JSONWebTokenAuthentication`` (its settings
``COGNITO_AWS_REGION``, ``COGNITO_USER_POOL`` and ``COGNITO_AUDIENCE`` still
apply) with the stricter validator of :mod:`accounts.tokens`.

Every request reads the account from the database (one indexed query by
``sub``), so deactivation, sign-out everywhere and deletion hold on the next
request in every process. Only the signature check is remembered
(:class:`accounts.tokens.VerifiedTokens`).
"""

import logging
from typing import Any

from django.utils.translation import gettext_lazy as _

from django_cognito_jwt import JSONWebTokenAuthentication
from rest_framework import exceptions
from rest_framework.request import Request

from accounts.models import User
from accounts.tokens import (
    IssuerNotConfigured,
    TokenError,
    TokenValidator,
    get_validator,
)

logger = logging.getLogger(__name__)

REALM = "api"


class SignInNotConfigured(exceptions.APIException):
    status_code = 503
    default_detail = _("Sign-in is not configured on this server.")
    default_code = "auth_not_configured"


class CognitoAuthentication(JSONWebTokenAuthentication):
    """Authenticate ``Authorization: Bearer <JWT>``; 401 ``invalid_token`` if bad."""

    def authenticate(self, request: Request) -> tuple[User, dict[str, Any]] | None:
        """Return ``(user, claims)``, None without a bearer token, or raise 401."""
        try:
            raw = self.get_jwt_token(request)
        except exceptions.AuthenticationFailed:
            self._fail(request, TokenError(_("The Authorization header is malformed.")))
        if raw is None:
            return None
        # Imported here: DRF imports this module while rest_framework.views
        # is still loading, and services need project.exceptions (DRF views).
        from accounts.services import user_authenticate

        token = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        try:
            claims = self.get_token_validator(request).validate(token)
            user = user_authenticate(claims=claims, token=token)
        except TokenError as exc:
            self._fail(request, exc)
        except IssuerNotConfigured as exc:
            logger.error("Cognito sign-in is missing settings: %s", exc)
            raise SignInNotConfigured from None
        return user, claims

    def _fail(self, request: Request, exc: TokenError) -> None:
        request._quire_token_error = exc.code  # noqa: SLF001 - read below
        raise exceptions.AuthenticationFailed(exc.detail, code=exc.code)

    def get_token_validator(self, request: Request) -> TokenValidator:
        """Return the process-wide validator for the configured issuer."""
        return get_validator()

    def authenticate_header(self, request: Request) -> str:
        """Answer RFC 6750's challenge; ``invalid_token`` when one was refused."""
        if getattr(request, "_quire_token_error", None):
            return 'Bearer error="invalid_token"'
        return f'Bearer realm="{REALM}"'

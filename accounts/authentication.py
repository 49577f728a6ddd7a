"""DRF authentication for Cognito JWTs (placeholder until the validator lands)."""

from django_cognito_jwt import JSONWebTokenAuthentication


class CognitoAuthentication(JSONWebTokenAuthentication):
    """Authenticate ``Authorization: Bearer <Cognito JWT>``."""

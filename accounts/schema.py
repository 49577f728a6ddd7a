"""OpenAPI description of the bearer authentication (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class CognitoAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.CognitoAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        """Declare ``Authorization: Bearer <JWT>`` (Cognito access or ID token)."""
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Cognito access or ID token (locally: issue_dev_token).",
        }

"""The OpenAPI schema describes the bearer authentication and /me."""

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


def test_schema_declares_bearer_jwt_and_me_paths():
    """The schema declares ``bearerAuth`` (JWT) and documents the /me routes."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A Cognito access or ID token (locally: issue_dev_token).",
    }
    me = schema["paths"]["/api/v1/me"]
    assert set(me) >= {"get", "patch", "delete"}
    assert me["get"]["security"] == [{"bearerAuth": []}]
    assert "/api/v1/me/sign-out" in schema["paths"]

"""The only code that talks to Cognito's API (boto3 ``cognito-idp``).

boto3 finds moto in tests through the standard ``AWS_ENDPOINT_URL`` variable.
"""

import functools
import logging
import os
from typing import Any

from django.conf import settings

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)


class CognitoError(Exception):
    """Cognito could not be reached or refused the call."""


@functools.cache
def _client(region: str, endpoint: str | None) -> Any:
    # ``endpoint`` is part of the cache key only so that a changed
    # AWS_ENDPOINT_URL (tests) yields a fresh client; boto3 reads it itself.
    return boto3.client(
        "cognito-idp",
        region_name=region or None,
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2}),
    )


def client() -> Any:
    """Return the process-wide ``cognito-idp`` client."""
    return _client(settings.COGNITO_AWS_REGION, os.environ.get("AWS_ENDPOINT_URL"))


client.cache_clear = _client.cache_clear  # type: ignore[attr-defined]


def user_attributes(*, access_token: str) -> dict[str, str]:
    """Return the signed-in user's attributes (``GetUser``) as a dict."""
    try:
        response = client().get_user(AccessToken=access_token)
    except (ClientError, BotoCoreError) as exc:
        raise CognitoError(type(exc).__name__) from None
    return {item["Name"]: item["Value"] for item in response["UserAttributes"]}


def global_sign_out(*, username: str) -> None:
    """Revoke every refresh token of ``username`` (``AdminUserGlobalSignOut``)."""
    try:
        client().admin_user_global_sign_out(
            UserPoolId=settings.COGNITO_USER_POOL, Username=username
        )
    except (ClientError, BotoCoreError) as exc:
        raise CognitoError(type(exc).__name__) from None


def delete_user(*, username: str) -> None:
    """Delete ``username`` from the user pool (``AdminDeleteUser``)."""
    try:
        client().admin_delete_user(
            UserPoolId=settings.COGNITO_USER_POOL, Username=username
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "UserNotFoundException":
            return
        raise CognitoError(type(exc).__name__) from None
    except BotoCoreError as exc:
        raise CognitoError(type(exc).__name__) from None

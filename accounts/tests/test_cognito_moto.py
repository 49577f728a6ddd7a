"""Real Cognito tokens from moto's server (USER_PASSWORD_AUTH via boto3)."""

import io
import socket
import uuid
from dataclasses import dataclass

from django.core.management import call_command

import boto3
import pytest
from rest_framework.test import APIClient

from accounts.adapters import cognito
from accounts.models import AccountTombstone, User
from accounts.tokens import get_validator

pytestmark = pytest.mark.django_db

REGION = "us-east-1"
PASSWORD = "Correct-Horse-9!"


@dataclass
class Pool:
    idp: object
    pool_id: str
    client_id: str
    other_client_id: str

    def add_user(self, username: str, email: str, *, staff: bool = False) -> None:
        self.idp.admin_create_user(
            UserPoolId=self.pool_id,
            Username=username,
            TemporaryPassword="Temp-Pass-123!",
            MessageAction="SUPPRESS",
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
            ],
        )
        self.idp.admin_set_user_password(
            UserPoolId=self.pool_id,
            Username=username,
            Password=PASSWORD,
            Permanent=True,
        )
        if staff:
            self.idp.admin_add_user_to_group(
                UserPoolId=self.pool_id, Username=username, GroupName="staff"
            )

    def sign_in(self, username: str, client_id: str | None = None) -> dict:
        response = self.idp.initiate_auth(
            ClientId=client_id or self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )
        return response["AuthenticationResult"]


@pytest.fixture
def pool(moto_server, settings) -> Pool:
    """Create a pool, two app clients and a staff group in moto; use the first."""
    idp = boto3.client("cognito-idp", region_name=REGION)
    pool_id = idp.create_user_pool(PoolName=f"quire-{uuid.uuid4().hex[:8]}")[
        "UserPool"
    ]["Id"]

    def make_client(name: str) -> str:
        return idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=name,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            ReadAttributes=["email", "email_verified"],
        )["UserPoolClient"]["ClientId"]

    client_id, other_client_id = make_client("web"), make_client("other")
    idp.create_group(UserPoolId=pool_id, GroupName="staff")
    settings.COGNITO_AWS_REGION = REGION
    settings.COGNITO_USER_POOL = pool_id
    settings.COGNITO_AUDIENCE = [client_id]
    settings.COGNITO_JWKS_URL = f"{moto_server}/{pool_id}/.well-known/jwks.json"
    settings.COGNITO_STAFF_GROUP = "staff"
    get_validator.cache_clear()
    cognito.client.cache_clear()
    return Pool(idp, pool_id, client_id, other_client_id)


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_cognito_id_token_creates_user_with_verified_email(pool):
    """A real ID token creates the user with the token's verified email."""
    pool.add_user("alice", "alice@example.com")
    tokens = pool.sign_in("alice")
    response = _client(tokens["IdToken"]).get("/api/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "alice@example.com"
    assert body["is_email_verified"] is True
    user = User.objects.get(pk=body["id"])
    assert user.cognito_username == "alice"
    attributes = pool.idp.admin_get_user(UserPoolId=pool.pool_id, Username="alice")[
        "UserAttributes"
    ]
    assert user.sub == {a["Name"]: a["Value"] for a in attributes}["sub"]


def test_cognito_access_token_fetches_email_once(pool):
    """An access-token-only user gets the email from GetUser, once."""
    pool.add_user("bob", "bob@example.com")
    access = pool.sign_in("bob")["AccessToken"]
    response = _client(access).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["email"] == "bob@example.com"
    pool.idp.admin_update_user_attributes(
        UserPoolId=pool.pool_id,
        Username="bob",
        UserAttributes=[{"Name": "email", "Value": "bob2@example.com"}],
    )
    again = _client(access).get("/api/v1/me")
    assert again.json()["email"] == "bob@example.com"


def test_cognito_access_token_unverified_email_is_not_stored(pool):
    """GetUser's email is stored only when Cognito marks it verified."""
    pool.add_user("hank", "hank@example.com")
    pool.idp.admin_update_user_attributes(
        UserPoolId=pool.pool_id,
        Username="hank",
        UserAttributes=[{"Name": "email_verified", "Value": "false"}],
    )
    response = _client(pool.sign_in("hank")["AccessToken"]).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["email"] is None


def test_cognito_staff_group_makes_staff_and_leaving_removes_it(pool):
    """Joining the staff group makes the user staff; leaving it removes staff."""
    pool.add_user("carol", "carol@example.com", staff=True)
    first = _client(pool.sign_in("carol")["AccessToken"]).get("/api/v1/me")
    assert first.json()["is_staff"] is True
    pool.idp.admin_remove_user_from_group(
        UserPoolId=pool.pool_id, Username="carol", GroupName="staff"
    )
    second = _client(pool.sign_in("carol")["AccessToken"]).get("/api/v1/me")
    assert second.json()["is_staff"] is False


def test_cognito_token_for_other_app_client_is_refused(pool):
    """A real token of an app client not in COGNITO_AUDIENCE is refused."""
    pool.add_user("dave", "dave@example.com")
    tokens = pool.sign_in("dave", client_id=pool.other_client_id)
    for token in (tokens["AccessToken"], tokens["IdToken"]):
        response = _client(token).get("/api/v1/me")
        assert response.status_code == 401
        assert response.json()["code"] == "token_invalid"


def test_cognito_sign_out_everywhere_revokes_tokens(pool):
    """Sign-out signs the user out of Cognito and refuses earlier tokens."""
    pool.add_user("erin", "erin@example.com")
    tokens = pool.sign_in("erin")
    client = _client(tokens["AccessToken"])
    assert client.post("/api/v1/me/sign-out").status_code == 204
    refused = _client(tokens["IdToken"]).get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.json() == {
        "detail": "The token has been revoked.",
        "code": "token_revoked",
    }
    with pytest.raises(pool.idp.exceptions.NotAuthorizedException):
        pool.idp.get_user(AccessToken=tokens["AccessToken"])


def test_cognito_delete_me_removes_pool_user(pool, django_capture_on_commit_callbacks):
    """DELETE /me deletes the row, then the Cognito user after the commit."""
    pool.add_user("frank", "frank@example.com")
    client = _client(pool.sign_in("frank")["IdToken"])
    assert client.get("/api/v1/me").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete("/api/v1/me").status_code == 204
    assert not User.objects.filter(email="frank@example.com").exists()
    with pytest.raises(pool.idp.exceptions.UserNotFoundException):
        pool.idp.admin_get_user(UserPoolId=pool.pool_id, Username="frank")


def test_cognito_jwks_fetched_once_for_many_requests(pool):
    """Many requests share one JWKS fetch (the key store is per process)."""
    pool.add_user("gina", "gina@example.com")
    client = _client(pool.sign_in("gina")["IdToken"])
    for _ in range(5):
        assert client.get("/api/v1/me").status_code == 200
    assert get_validator().keystore.fetch_count == 1


def test_cognito_deleted_account_token_answers_account_deleted(
    pool, django_capture_on_commit_callbacks
):
    """A Cognito token still within its hour answers 401 after the deletion."""
    pool.add_user("hana", "hana@example.com")
    tokens = pool.sign_in("hana")
    client = _client(tokens["AccessToken"])
    assert client.get("/api/v1/me").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete("/api/v1/me").status_code == 204
    for token in (tokens["AccessToken"], tokens["IdToken"]):
        response = _client(token).get("/api/v1/me")
        assert response.status_code == 401
        assert response.json()["code"] == "account_deleted"
    assert User.objects.count() == 0
    tombstone = AccountTombstone.objects.get()
    assert tombstone.cognito_deleted_at is not None
    assert tombstone.cognito_username == ""


def test_cognito_failed_user_deletion_is_retried_by_the_purge(
    pool, moto_server, monkeypatch, django_capture_on_commit_callbacks
):
    """A Cognito failure keeps the tombstone pending; the purge command retries."""
    pool.add_user("ivan", "ivan@example.com")
    client = _client(pool.sign_in("ivan")["IdToken"])
    assert client.get("/api/v1/me").status_code == 200
    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)  # Cognito is unreachable
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete("/api/v1/me").status_code == 204
    tombstone = AccountTombstone.objects.get()
    assert tombstone.cognito_deleted_at is None
    assert tombstone.cognito_username == "ivan"
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    call_command("purge_account_tombstones", stdout=io.StringIO())
    tombstone.refresh_from_db()
    assert tombstone.cognito_deleted_at is not None
    with pytest.raises(pool.idp.exceptions.UserNotFoundException):
        pool.idp.admin_get_user(UserPoolId=pool.pool_id, Username="ivan")

"""Fixtures shared by every app's tests.

AWS in tests is moto in server mode: one ``ThreadedMotoServer`` on a free
loopback port for the whole session, reached by the real boto3 through the
standard ``AWS_ENDPOINT_URL`` variable (no patching of boto3).
"""

import os
from collections.abc import Callable, Iterator

import pytest
from moto.server import ThreadedMotoServer
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory

# PostgreSQL-only tests: marked, skipped on SQLite with a note, never on PostgreSQL.
pytest_plugins = ["project.tests.postgresql_only"]

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto accepts any credentials
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Start moto's server on 127.0.0.1 and point boto3 at it; yield its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    saved = {key: os.environ.get(key) for key in [*AWS_TEST_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(AWS_TEST_ENV)
    os.environ["AWS_ENDPOINT_URL"] = url
    try:
        yield url
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(autouse=True)
def _forget_accepted_tokens() -> Iterator[None]:
    """Start and end every test with no verified tokens or models (rows roll back)."""
    from accounts.tokens import get_validator
    from aiproxy.selectors import enabled_models

    get_validator.cache_clear()
    enabled_models.clear()
    yield
    get_validator.cache_clear()
    enabled_models.clear()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path) -> None:
    """Keep every test's stored files in its own temporary folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def api_client() -> APIClient:
    """Return an unauthenticated DRF test client."""
    return APIClient()


@pytest.fixture
def user(db):
    """Return a signed-up user with a verified email."""
    return UserFactory()


@pytest.fixture
def client_for(db) -> Callable[..., APIClient]:
    """Return a factory: ``client_for(user)`` is a client signed in as ``user``."""

    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return make


@pytest.fixture
def auth_client(user, client_for) -> APIClient:
    """Return a client signed in as ``user``."""
    return client_for(user)


@pytest.fixture(scope="session")
def _local_issuer_key_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("local-issuer") / "jwt-local.pem")


@pytest.fixture(autouse=True)
def _local_issuer_key(settings, _local_issuer_key_dir) -> None:
    """Keep the local issuer's signing key in a temporary folder, never var/."""
    settings.LOCAL_ISSUER_KEY_PATH = _local_issuer_key_dir


@pytest.fixture
def bearer_for(db) -> Callable[..., str]:
    """Return a factory: ``bearer_for(user)`` is a real local-issuer access token.

    Requests carrying it go through the real authentication path (signature,
    claims, user lookup). The token keeps the user's staff flag unless
    ``staff=`` says otherwise; ``use="id"`` mints an ID token.
    """
    from django.conf import settings

    from accounts import local_issuer

    def make(user, *, staff: bool | None = None, use: str = "access", **kw) -> str:
        if not user.sub:
            user.sub = local_issuer.sub_for_email(user.email or str(user.pk))
            user.save(update_fields=["sub", "updated_at"])
        is_staff = user.is_staff if staff is None else staff
        group = settings.COGNITO_STAFF_GROUP
        return local_issuer.issue_token(
            sub=user.sub,
            email=user.email,
            use=use,
            groups=[group] if is_staff and group else [],
            **kw,
        )

    return make


@pytest.fixture
def bearer_client(api_client, bearer_for) -> Callable[..., APIClient]:
    """Return a factory: ``bearer_client(user)`` sends a real bearer token."""

    def make(user, **kw) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {bearer_for(user, **kw)}")
        return client

    return make


@pytest.fixture
def staff(db):
    """Return a superuser, for the admin (a test module may override it)."""
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, staff):
    """Return Django's test client signed in to the admin as ``staff``."""
    client.force_login(staff)
    return client

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

"""Liveness and readiness checks."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_without_dependencies_answers_ok(api_client):
    """/healthz answers 200 with a JSON status."""
    response = api_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_with_database_and_storage_answers_ok(api_client):
    """/readyz answers 200 when the database and the storage are reachable."""
    response = api_client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "storage": "ok"},
    }
    assert "no-store" in response["Cache-Control"]


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A loopback TCP server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    host, port = server.getsockname()
    yield f"http://{host}:{port}"
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    server.close()


def _s3_storage(settings, endpoint: str, bucket: str) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": endpoint,
                "access_key": "testing",
                "secret_key": "testing",
                "region_name": "us-east-1",
            },
        },
    }


def test_readyz_hung_storage_answers_503_within_timeout(
    settings, api_client, black_hole
):
    """A storage that never answers makes /readyz say 503 "timeout" fast."""
    # Long enough for the database check's fresh connection on a busy machine
    # (0.5 s was not, under load), far shorter than botocore's 60 s.
    settings.READYZ_TIMEOUT = 3
    _s3_storage(settings, black_hole, "quire-hung")
    started = time.monotonic()
    response = api_client.get("/readyz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "storage": "timeout"},
        "failed": ["storage"],
    }
    # Without the deadline this would wait for botocore's 60 s read timeout;
    # the bound is loose because CI machines are shared and busy.
    assert elapsed < 10.0


def test_readyz_missing_bucket_answers_503_naming_storage(
    settings, api_client, moto_server
):
    """A bucket that does not exist (moto S3) makes /readyz say 503 for storage."""
    settings.READYZ_TIMEOUT = 15  # a busy CI machine must not turn this into "timeout"
    _s3_storage(settings, moto_server, "quire-no-such-bucket")
    response = api_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "storage": "unavailable"}
    assert response.json()["failed"] == ["storage"]


def test_readyz_existing_bucket_answers_ok(settings, api_client, moto_server):
    """An existing bucket on moto's S3 counts as reachable storage."""
    import boto3

    settings.READYZ_TIMEOUT = 15  # a busy CI machine must not turn this into "timeout"
    boto3.client("s3", endpoint_url=moto_server).create_bucket(Bucket="quire-ready")
    _s3_storage(settings, moto_server, "quire-ready")
    response = api_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "storage": "ok"}

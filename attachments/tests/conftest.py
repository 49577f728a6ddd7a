"""Fixtures for attachment tests: a bucket on moto's server, storage helpers."""

import uuid
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from attachments.adapters.storage import attachment_storage, s3_client


@pytest.fixture
def s3_bucket(moto_server, settings) -> str:
    """Switch attachments to S3 mode on a fresh bucket of the shared moto server."""
    bucket = f"quire-test-{uuid.uuid4().hex[:12]}"
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = None
    attachment_storage().client.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def own_moto_server(moto_server, settings) -> Iterator[ThreadedMotoServer]:
    """Start a moto server for this test alone (it may be stopped mid-test)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3_client.cache_clear()
    settings.AWS_STORAGE_BUCKET_NAME = "quire-fault-test"
    settings.AWS_S3_ENDPOINT_URL = f"http://{host}:{port}"
    attachment_storage().client.create_bucket(Bucket="quire-fault-test")
    server.is_running = True
    yield server
    if server.is_running:
        server.stop()
    s3_client.cache_clear()


@pytest.fixture
def stored():
    """Return a helper that reads a stored object's bytes, or None."""

    def read(key: str) -> bytes | None:
        storage = attachment_storage()
        if hasattr(storage, "client"):
            try:
                body = storage.client.get_object(Bucket=storage.bucket, Key=key)
            except storage.client.exceptions.NoSuchKey:
                return None
            return body["Body"].read()
        path = storage.path(key)
        return path.read_bytes() if path.exists() else None

    return read

"""Files in S3 mode: the page sends the bytes straight to the bucket (presigned POST).

moto's S3 server runs on loopback (in this process, as attachments' tests run
it); the bucket gets the CORS rule ``infra/quire_infra/data.py`` writes for
the configured web origins. moto answers a preflight by that rule (403 for
an origin it does not list), as S3 does.
"""

import uuid
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer
from playwright.sync_api import expect

from attachments.adapters.storage import attachment_storage, s3_client
from web.tests.browser.test_collaboration import RECORD_CHANGES, new_document

pytestmark = pytest.mark.browser

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto accepts any credentials
    "AWS_DEFAULT_REGION": "us-east-1",
}


def bucket_cors(origins: list[str]) -> dict:
    """Return the bucket's CORS configuration as infra's data stack writes it."""
    return {
        "CORSRules": [
            {
                "AllowedMethods": ["POST", "GET", "HEAD"],
                "AllowedOrigins": origins,
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag"],
                "MaxAgeSeconds": 3000,
            }
        ]
    }


@pytest.fixture
def moto_s3() -> Iterator[str]:
    """Run moto's server on a free loopback port for one test; yield its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_app(app_url, moto_s3, settings, monkeypatch) -> Iterator[str]:
    """Switch the served app to S3 mode on a bucket that allows the app's origin."""
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    bucket = f"quire-web-{uuid.uuid4().hex[:12]}"
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = moto_s3
    settings.AWS_S3_REGION_NAME = "us-east-1"
    s3_client.cache_clear()
    client = attachment_storage().client
    client.create_bucket(Bucket=bucket)
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration=bucket_cors([app_url]))
    yield bucket
    s3_client.cache_clear()


def test_s3_upload_goes_to_presigned_post_with_progress_then_downloads(
    page, app_url, s3_app, moto_s3, sign_in, tmp_path
):
    """In S3 mode the file goes straight to the bucket with a progress bar, then downloads."""
    sign_in(page, "s3files@example.com")
    assert page.locator("body").get_attribute("data-storage") == "s3"
    new_document(page, "With a file in S3", "See attached.")
    page.get_by_role("button", name="Files").click()
    content = ("notes, " * 150_000).encode()  # ~1 MB, so progress has steps
    page.get_by_label("Attach a file").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": content}
    )
    posts: list[tuple[str, str]] = []
    page.on(
        "request",
        lambda r: (
            posts.append((r.url, r.headers.get("content-type", "")))
            if r.method == "POST"
            else None
        ),
    )
    page.evaluate(RECORD_CHANGES, "#upload-progress")

    page.get_by_role("button", name="Upload").click()

    expect(page.locator("#upload-state")).to_have_text("notes.txt is uploaded.")
    seen = page.evaluate("() => window.__seen")
    assert 100 in [int(v) for v in seen if str(v).isdigit()], seen
    to_bucket = [(u, t) for u, t in posts if u.startswith(moto_s3)]
    assert [u for u, _ in to_bucket] == [f"{moto_s3}/{s3_app}"]
    assert to_bucket[0][1].startswith("multipart/form-data")
    # The app only hands out the POST and hears of its completion: no bytes.
    to_app = [t for u, t in posts if u.startswith(app_url)]
    assert len(to_app) == 2
    assert not any(t.startswith("multipart/") for t in to_app), to_app
    (stored,) = attachment_storage().client.list_objects_v2(Bucket=s3_app)["Contents"]
    assert stored["Size"] == len(content)

    with page.expect_download() as download:
        page.get_by_role("link", name="notes.txt").click()
    saved = tmp_path / "downloaded.txt"
    download.value.save_as(saved)
    assert saved.read_bytes() == content
    assert download.value.suggested_filename == "notes.txt"


def test_s3_upload_from_origin_the_bucket_does_not_allow_fails_visibly(
    page, app_url, s3_app, sign_in, settings
):
    """A bucket whose CORS omits the app's origin: the page says the upload failed."""
    attachment_storage().client.put_bucket_cors(
        Bucket=s3_app, CORSConfiguration=bucket_cors(["https://elsewhere.example"])
    )
    sign_in(page, "s3refused@example.com")
    new_document(page, "Refused upload", "No file.")
    page.get_by_role("button", name="Files").click()
    page.get_by_label("Attach a file").set_input_files(
        {"name": "x.txt", "mimeType": "text/plain", "buffer": b"x" * 1000}
    )

    page.get_by_role("button", name="Upload").click()

    expect(page.locator("#upload-state")).to_have_text("Upload failed.")
    assert "Contents" not in attachment_storage().client.list_objects_v2(Bucket=s3_app)

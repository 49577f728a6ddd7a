"""The only code that knows how attachment bytes are stored.

Two implementations with one interface: :class:`S3Storage` (a bucket, reached
with boto3; uploads by presigned POST, downloads by presigned GET or a
CloudFront signed URL) and :class:`LocalStorage` (files under ``MEDIA_ROOT``
through Django's ``FileSystemStorage``; uploads and downloads pass through
Django). Services pick one with :func:`attachment_storage` and never import
boto3 themselves.
"""

import functools
import hashlib
import logging
import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils import timezone

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from attachments.sniffing import TextCheck

logger = logging.getLogger(__name__)
T = TypeVar("T")

CHUNK_BYTES = 1024 * 1024
HEAD_BYTES = 8192


class StorageUnavailable(Exception):  # noqa: N818 - reads better at call sites
    """Storage could not be reached or answered with an error."""


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]


@dataclass(frozen=True)
class ObjectInfo:
    """A stored object's size and, on a versioned bucket, its version id."""

    size_bytes: int
    version: str = ""


@dataclass(frozen=True)
class Digest:
    """What was read from a stored object: first bytes, length, hash, text or not."""

    head: bytes
    size_bytes: int
    sha256: str
    is_text: bool


class AttachmentStorage(Protocol):
    is_direct_upload: bool

    def presigned_post(
        self, *, key: str, content_type: str, size_bytes: int, expires_in: int
    ) -> PresignedPost: ...

    def download_url(
        self,
        *,
        key: str,
        filename: str,
        content_type: str,
        expires_in: int,
        version: str = "",
    ) -> str | None: ...

    def size(self, *, key: str) -> int | None: ...

    def stat(self, *, key: str) -> ObjectInfo | None: ...

    def digest(
        self, *, key: str, limit_bytes: int, version: str = ""
    ) -> Digest | None: ...

    def read(
        self, *, key: str, limit_bytes: int, version: str = ""
    ) -> bytes | None: ...

    def delete(self, *, key: str) -> None: ...

    def list_keys(self, *, prefix: str, older_than: datetime) -> Iterator[str]: ...


def disposition(filename: str) -> str:
    """Return an RFC 6266 ``attachment`` disposition with a UTF-8 ``filename*``.

    An ASCII ``filename`` comes first for clients that ignore ``filename*``.
    """
    fallback = (
        unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    )
    fallback = re.sub(r'[\\"\x00-\x1f\x7f]', "_", fallback).strip() or "download"
    encoded = quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def attachment_storage() -> AttachmentStorage:
    """Return the storage the settings select: S3 when a bucket is named."""
    if settings.AWS_STORAGE_BUCKET_NAME:
        return S3Storage(bucket=settings.AWS_STORAGE_BUCKET_NAME)
    return LocalStorage(root=Path(settings.MEDIA_ROOT))


@functools.cache
def s3_client(
    region_name: str | None, endpoint_url: str | None, addressing_style: str | None
):
    """Build the S3 client once per process (boto3 clients are thread-safe).

    Creating a client costs milliseconds of CPU and loads service models; a
    request path must not pay that each time. Tests call ``cache_clear()``.
    Without ``endpoint_url`` boto3 honours ``AWS_ENDPOINT_URL`` (moto in tests).
    """
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": addressing_style or "auto"},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=3,
        read_timeout=20,
    )
    return boto3.session.Session().client(
        "s3", region_name=region_name, endpoint_url=endpoint_url, config=config
    )


@functools.cache
def _cloudfront_signer(key_id: str, private_key_pem: bytes):
    from botocore.signers import CloudFrontSigner
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    private_key = load_pem_private_key(private_key_pem, password=None)

    def rsa_signer(message: bytes) -> bytes:
        # CloudFront signed URLs are defined with RSA-SHA1.
        return private_key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303

    return CloudFrontSigner(key_id, rsa_signer)


def _is_missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


class S3Storage:
    """Objects in one S3 bucket."""

    is_direct_upload = True

    def __init__(self, *, bucket: str) -> None:
        self.bucket = bucket
        self.client = s3_client(
            settings.AWS_S3_REGION_NAME,
            settings.AWS_S3_ENDPOINT_URL,
            settings.AWS_S3_ADDRESSING_STYLE,
        )

    def presigned_post(
        self, *, key: str, content_type: str, size_bytes: int, expires_in: int
    ) -> PresignedPost:
        """Sign a POST policy pinning the key, the content type and the size."""
        post = self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", size_bytes, size_bytes],
            ],
            ExpiresIn=expires_in,
        )
        return PresignedPost(url=post["url"], fields=post["fields"])

    def download_url(
        self,
        *,
        key: str,
        filename: str,
        content_type: str,
        expires_in: int,
        version: str = "",
    ) -> str:
        """Sign a short-lived GET that makes the browser save the file.

        With ``version`` (a versioned bucket) the URL serves exactly the
        version that was verified, even if the key was written again since.
        """
        header = disposition(filename)
        if settings.AWS_CLOUDFRONT_KEY_ID:
            signer = _cloudfront_signer(
                settings.AWS_CLOUDFRONT_KEY_ID, settings.AWS_CLOUDFRONT_KEY
            )
            url = (
                f"https://{settings.AWS_S3_CUSTOM_DOMAIN}/{quote(key)}"
                f"?response-content-disposition={quote(header, safe='')}"
                f"&response-content-type={quote(content_type, safe='')}"
            )
            if version:
                url += f"&versionId={quote(version, safe='')}"
            expires_at = timezone.now() + timedelta(seconds=expires_in)
            return signer.generate_presigned_url(url, date_less_than=expires_at)
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseContentDisposition": header,
            "ResponseContentType": content_type,
        }
        if version:
            params["VersionId"] = version
        return self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_in
        )

    def size(self, *, key: str) -> int | None:
        """Return the stored object's size, or None when there is none."""
        info = self.stat(key=key)
        return None if info is None else info.size_bytes

    def stat(self, *, key: str) -> ObjectInfo | None:
        """Return the object's size and version id, or None when there is none."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _is_missing(error):
                return None
            raise StorageUnavailable(str(error)) from error
        except BotoCoreError as error:
            raise StorageUnavailable(str(error)) from error
        version = head.get("VersionId") or ""
        return ObjectInfo(
            size_bytes=int(head["ContentLength"]),
            version="" if version == "null" else version,
        )

    def digest(self, *, key: str, limit_bytes: int, version: str = "") -> Digest | None:
        """Stream the object once: first bytes, true length and SHA-256.

        Reading stops after ``limit_bytes + 1`` bytes, enough to prove an
        object is too large without downloading all of it.
        """
        return self._with_body(
            key=key, version=version, use=lambda body: _digest_stream(body, limit_bytes)
        )

    def read(self, *, key: str, limit_bytes: int, version: str = "") -> bytes | None:
        """Return the object's bytes; None if missing or past ``limit_bytes``."""
        data = self._with_body(
            key=key, version=version, use=lambda body: body.read(limit_bytes + 1)
        )
        return None if data is None or len(data) > limit_bytes else data

    def _with_body(
        self, *, key: str, version: str, use: Callable[[BinaryIO], T]
    ) -> T | None:
        """Return ``use(body)`` of the object (closed after); None if it is missing.

        A storage failure, while getting or reading the object, is
        :class:`StorageUnavailable`.
        """
        extra = {"VersionId": version} if version else {}
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key, **extra)["Body"]
            try:
                return use(body)
            finally:
                body.close()
        except ClientError as error:
            if _is_missing(error):
                return None
            raise StorageUnavailable(str(error)) from error
        except (BotoCoreError, OSError) as error:
            raise StorageUnavailable(str(error)) from error

    def delete(self, *, key: str) -> None:
        """Delete the object; deleting a missing key succeeds."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as error:
            raise StorageUnavailable(str(error)) from error

    def list_keys(self, *, prefix: str, older_than: datetime) -> Iterator[str]:
        """Yield keys under ``prefix`` last modified before ``older_than``."""
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    if item["LastModified"] < older_than:
                        yield item["Key"]
        except (ClientError, BotoCoreError) as error:
            raise StorageUnavailable(str(error)) from error

    def put(self, *, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` directly (document import, the admin and tests)."""
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )
        except (ClientError, BotoCoreError) as error:
            raise StorageUnavailable(str(error)) from error


class LocalStorage:
    """Files under one folder, through Django's ``FileSystemStorage``."""

    is_direct_upload = False

    def __init__(self, *, root: Path) -> None:
        self.root = root
        self.files = FileSystemStorage(location=root)

    def presigned_post(
        self, *, key: str, content_type: str, size_bytes: int, expires_in: int
    ) -> PresignedPost:
        """Refuse: local files are uploaded through Django, never directly."""
        raise NotImplementedError("local storage takes multipart uploads")

    def download_url(
        self,
        *,
        key: str,
        filename: str,
        content_type: str,
        expires_in: int,
        version: str = "",
    ) -> None:
        """Return None: local files are streamed by Django."""
        return None

    def path(self, key: str) -> Path:
        """Return the file path for ``key`` (refuses keys escaping the root)."""
        return Path(self.files.path(key))

    def open_write(self, *, key: str) -> BinaryIO:
        """Create the file for ``key`` for writing; it must not exist yet."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("xb")

    def open_read(self, *, key: str) -> BinaryIO:
        """Open the stored file for reading."""
        return self.path(key).open("rb")

    def size(self, *, key: str) -> int | None:
        """Return the file's size, or None when there is none."""
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    def stat(self, *, key: str) -> ObjectInfo | None:
        """Return the file's size (files have no versions)."""
        size = self.size(key=key)
        return None if size is None else ObjectInfo(size_bytes=size)

    def digest(self, *, key: str, limit_bytes: int, version: str = "") -> Digest | None:
        """Read the file once: first bytes, true length and SHA-256."""
        try:
            with self.open_read(key=key) as handle:
                return _digest_stream(handle, limit_bytes)
        except FileNotFoundError:
            return None

    def read(self, *, key: str, limit_bytes: int, version: str = "") -> bytes | None:
        """Return the file's bytes; None if missing or past ``limit_bytes``."""
        try:
            with self.open_read(key=key) as handle:
                data = handle.read(limit_bytes + 1)
        except FileNotFoundError:
            return None
        return None if len(data) > limit_bytes else data

    def delete(self, *, key: str) -> None:
        """Delete the file; deleting a missing key succeeds."""
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            return

    def list_keys(self, *, prefix: str, older_than: datetime) -> Iterator[str]:
        """Yield keys under ``prefix`` whose files were modified before ``older_than``."""
        base = self.root / prefix
        if not base.is_dir():
            return
        cutoff = older_than.timestamp()
        for folder, _dirs, names in os.walk(base):
            for name in names:
                path = Path(folder) / name
                try:
                    if path.stat().st_mtime < cutoff:
                        yield path.relative_to(self.root).as_posix()
                except FileNotFoundError:
                    continue

    def put(self, *, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` directly (document import and tests)."""
        with self.open_write(key=key) as handle:
            handle.write(data)


def _digest_stream(stream, limit_bytes: int) -> Digest:
    sha = hashlib.sha256()
    text = TextCheck()
    head = b""
    size = 0
    while size <= limit_bytes:
        chunk = stream.read(CHUNK_BYTES)
        if not chunk:
            break
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        sha.update(chunk)
        text.feed(chunk)
        size += len(chunk)
    return Digest(
        head=head, size_bytes=size, sha256=sha.hexdigest(), is_text=text.finish()
    )

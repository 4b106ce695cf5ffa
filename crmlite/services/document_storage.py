"""Where documents' files are kept: a folder (``DOCUMENT_DIR``, the default) or an
S3-compatible bucket (``DOCUMENT_S3_BUCKET``, with ``DOCUMENT_S3_ENDPOINT_URL`` for MinIO,
Ceph, R2… and ``DOCUMENT_S3_REGION``; the keys come from the environment as boto3 reads
them: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, or a profile or instance role).

Each file is stored under the document's random key (``Document.storage_key``), with the
bucket's optional ``DOCUMENT_S3_PREFIX`` before it. A download is always streamed through
crmlite, never a link to the bucket: the app checks who may read the deal on every download
and sends the file as an attachment with its own headers (``web/documents.py``), and the
bucket needs no public access, CORS or presigned URLs.

A store that cannot be reached raises ``StorageUnavailable`` with a message for the person:
an upload then saves nothing (the file is written before its row), a download answers 503.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol

log = logging.getLogger(__name__)

UNREACHABLE = "The documents store cannot be reached just now; nothing was saved. Try again later."


class StorageUnavailable(Exception):
    """The folder or bucket failed; the message says so to the person."""


class Storage(Protocol):
    def put(self, key: str, content: bytes, content_type: str) -> None:
        """Keep the file under the key."""

    def open(self, key: str) -> IO[bytes] | None:
        """The file to read from (the caller closes it); None when it is gone."""

    def remove(self, key: str) -> None:
        """Remove the file (already gone: nothing to do)."""


class FolderStorage:
    """Files in a folder on the server's disk (``instance/documents`` by default)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder / key

    def put(self, key: str, content: bytes, content_type: str) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.path(key).write_bytes(content)
        except OSError as error:
            log.error("documents folder %s: %s", self.folder, error)
            raise StorageUnavailable(UNREACHABLE) from error

    def open(self, key: str) -> IO[bytes] | None:
        try:
            return self.path(key).open("rb")
        except FileNotFoundError:
            return None

    def remove(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


class BucketStorage:
    """Files as objects of an S3-compatible bucket, through boto3."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def put(self, key: str, content: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=content, ContentType=content_type
            )
        except _failures() as error:
            log.error("documents bucket %s: put %s: %s", self.bucket, key, error)
            raise StorageUnavailable(UNREACHABLE) from error

    def open(self, key: str) -> IO[bytes] | None:
        from botocore.exceptions import ClientError

        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except _failures() as error:
            if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in (
                "NoSuchKey",
                "404",
            ):
                return None
            log.error("documents bucket %s: get %s: %s", self.bucket, key, error)
            raise StorageUnavailable(
                "The documents store cannot be reached just now. Try again later."
            ) from error
        body: IO[bytes] = found["Body"]
        return body

    def remove(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except _failures() as error:
            log.error("documents bucket %s: delete %s: %s", self.bucket, key, error)
            raise StorageUnavailable(
                "The documents store cannot be reached just now: the file stays in the bucket."
            ) from error


def _failures() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def storage_from(config: Mapping[str, Any]) -> Storage:
    """The bucket when ``DOCUMENT_S3_BUCKET`` is set, else the folder ``DOCUMENT_DIR``."""
    bucket = config.get("DOCUMENT_S3_BUCKET")
    if not bucket:
        return FolderStorage(Path(config["DOCUMENT_DIR"]))
    import boto3  # only needed when a bucket is configured
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=config.get("DOCUMENT_S3_ENDPOINT_URL") or None,
        region_name=config.get("DOCUMENT_S3_REGION") or None,
        # A request fails in seconds, not minutes, when the bucket is down.
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}),
    )
    return BucketStorage(client, bucket, config.get("DOCUMENT_S3_PREFIX") or "")

"""Blob storage for file contents: content-addressed (sha256), streamed in chunks, never whole in memory.

An upload is first staged: written chunk by chunk to a temporary file beside the store, hashed as it goes and
fsynced. The store then takes the staged file under its digest — the data directory (a hard link, whose
directory entry is made durable with the other uploads of the moment by one flush: core/blobsync.py) or an
S3-compatible bucket (boto3's chunked multipart upload). The same content is stored once, whoever uploads it
and however often. Putting is idempotent, so a caller may put again should the blob have vanished in between
(a concurrent delete of its last metadata row).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from deskbase.config import Settings
from deskbase.core.blobsync import BlobSync
from deskbase.core.errors import FileTooLarge, Unavailable

CHUNK = 256 * 1024
_DIGEST_LEN = 64


class Staged:
    """An upload being written to a temporary file: size checked and sha256 computed on every chunk."""

    def __init__(self, directory: Path, limit: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix="upload-")
        self._fd: int | None = fd
        self.path = Path(name)
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()
        self.sha256 = ""

    def write(self, data: bytes) -> None:
        """Append a chunk; past the limit the staged bytes are dropped and FileTooLarge raised."""
        if self._fd is None:
            raise ValueError("staged upload is closed")
        self.size += len(data)
        if self.size > self.limit:
            self.discard()
            raise FileTooLarge(
                f"the file is larger than the limit of {self.limit} bytes", {"limit": self.limit}
            )
        self._hash.update(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def finish(self) -> str:
        """Make the staged bytes durable and return their sha256: a blob's name in the store must never come
        before its content (a put that finds the name takes the blob as stored)."""
        if self._fd is None:
            raise ValueError("staged upload is closed")
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        self.sha256 = self._hash.hexdigest()
        return self.sha256

    def discard(self) -> None:
        """Remove the temporary file (idempotent; the stored blob, if any, is separate)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path.unlink(missing_ok=True)


class BlobStore(Protocol):
    def staging_dir(self) -> Path: ...
    def put(self, staged: Staged) -> None: ...
    def put_all(self, staged: Sequence[Staged]) -> None: ...
    def exists(self, sha256: str) -> bool: ...
    def read(self, sha256: str) -> Iterator[bytes]: ...
    def delete(self, sha256: str) -> None: ...


def _checked(sha256: str) -> str:
    if len(sha256) != _DIGEST_LEN or not all(c in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a sha256 digest: {sha256!r}")
    return sha256


class LocalBlobs:
    """Blobs under `<root>/<aa>/<bb>/<sha256>`, staged in `<root>/tmp` (same file system: linking is atomic)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sync = BlobSync(root)

    def staging_dir(self) -> Path:
        return self.root / "tmp"

    def _path(self, sha256: str) -> Path:
        d = _checked(sha256)
        return self.root / d[:2] / d[2:4] / d

    def put(self, staged: Staged) -> None:
        """Returns once the blob is durable: its bytes (synced when staged) and every directory entry leading
        to it."""
        self.put_all([staged])

    def put_all(self, staged: Sequence[Staged]) -> None:
        """`put` for several blobs (a message and its attachments): all linked, then one flush for them."""
        changed: list[Path] = []  # the directories whose entries change
        owed: list[Path] = []  # linked by a put of the same bytes that may still wait for its flush
        for s in staged:
            target = self._path(s.sha256)
            if target.exists():
                owed.append(target.parent)
                continue
            new = [target.parent]
            for d in (target.parent, target.parent.parent):
                if not d.exists():
                    new.append(d.parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(s.path, target)
            except FileExistsError:
                owed.append(target.parent)
                continue
            changed += new
        if changed:
            self.sync.durable(changed)
        for d in dict.fromkeys(owed):
            self.sync.settled(d)

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()

    def read(self, sha256: str) -> Iterator[bytes]:
        with open(self._path(sha256), "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)


class S3Blobs:
    """Blobs as objects `<prefix>/<sha256>` of an S3-compatible bucket; staged in the data directory."""

    def __init__(self, bucket: str, prefix: str, staging: Path, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._staging = staging
        self.client = client

    def staging_dir(self) -> Path:
        return self._staging

    def _key(self, sha256: str) -> str:
        d = _checked(sha256)
        return f"{self.prefix}/{d}" if self.prefix else d

    def put(self, staged: Staged) -> None:
        if not self.exists(staged.sha256):
            self.client.upload_file(str(staged.path), self.bucket, self._key(staged.sha256))

    def put_all(self, staged: Sequence[Staged]) -> None:
        for s in staged:
            self.put(s)

    def exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def read(self, sha256: str) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(sha256))["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def delete(self, sha256: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(sha256))


def open_blobs(settings: Settings) -> BlobStore:
    """The store `files_url` names: empty means `<data_dir>/files`; `s3://bucket/prefix` an S3 bucket
    (endpoint and credentials from the `files_s3_*` settings, else the standard AWS environment)."""
    url = settings.files_url.strip()
    if not url:
        return LocalBlobs(settings.data_path / "files")
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise Unavailable(
            f"files_url must be empty or s3://bucket/prefix, not {url!r}", {"setting": "files_url"}
        )
    try:
        import boto3
    except ImportError as exc:
        raise Unavailable(
            "files_url names S3 but boto3 is not installed (pip install 'deskbase[s3]')"
        ) from exc
    client = boto3.client(
        "s3",
        endpoint_url=settings.files_s3_endpoint_url or None,
        region_name=settings.files_s3_region or None,
        aws_access_key_id=settings.files_s3_access_key_id or None,
        aws_secret_access_key=settings.files_s3_secret_access_key or None,
    )
    return S3Blobs(parsed.netloc, parsed.path, settings.data_path / "files" / "tmp", client)

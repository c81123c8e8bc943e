"""Blob storage: streamed in chunks (never whole in memory), content-addressed, and the S3 back end against a
real S3-compatible server process (moto's threaded server) through the whole upload/download path."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.blobs import S3Blobs, open_blobs
from deskbase.core.context import SYSTEM
from deskbase.core.errors import FileTooLarge
from deskbase.server import build
from tests.cli.cli_harness import running_server

MIB = 1024 * 1024


class Pattern(io.RawIOBase):
    """`size` bytes of a repeating pattern, produced as read: the test itself never holds them whole."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = (b"0123456789abcdef" * (n // 16 + 1))[:n]
        self.left -= n
        return n


def multipart(size: int) -> Iterator[bytes]:
    yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
    src = Pattern(size)
    while chunk := src.read(64 * 1024):
        yield chunk
    yield b"\r\n--b--\r\n"


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Deskbase]:
    app = Deskbase.open(Settings(data_dir=str(tmp_path), max_file_bytes=32 * MIB))
    app.workspaces.put("acme", "Acme", None, SYSTEM)
    yield app
    app.close()


def test_a_large_upload_streams_through_memory_in_chunks(tmp_path: Path) -> None:
    """A 24 MiB upload to a real server (many times the chunk size) never has the file whole in memory: the
    traced peak of the whole request — client, server, parser, staging, store — stays a fraction of it."""
    size = 24 * MIB
    with running_server(tmp_path / "data", webhooks=False, sla_scheduler=False) as server:
        server.core.workspaces.put("acme", "Acme", None, SYSTEM)
        h = {"Authorization": f"Bearer {server.token}"}
        with httpx.Client(base_url=server.url, headers=h, timeout=60) as client:
            tracemalloc.start()
            try:
                r = client.post(
                    "/v1/workspaces/acme/files",
                    content=multipart(size),
                    headers={"Content-Type": "multipart/form-data; boundary=b"},
                )
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert r.status_code == 201, r.text
            assert r.json()["size"] == size
            assert peak < size / 4, f"peak {peak} bytes for a {size}-byte upload"
            got = 0
            with client.stream("GET", f"/v1/workspaces/acme/files/{r.json()['id']}/content") as resp:
                for chunk in resp.iter_raw():
                    got += len(chunk)
            assert got == size


def test_the_limit_is_checked_while_streaming(core: Deskbase, tmp_path: Path) -> None:
    with pytest.raises(FileTooLarge):
        core.files.upload("acme", SYSTEM, "big.bin", None, Pattern(32 * MIB + 1))  # type: ignore[arg-type]
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []


def test_stored_blobs_are_named_by_their_digest(core: Deskbase, tmp_path: Path) -> None:
    meta = core.files.upload("acme", SYSTEM, "a.txt", "text/plain", io.BytesIO(b"abc"))
    assert meta["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    path = tmp_path / "files" / "ba" / "78" / meta["sha256"]
    assert path.read_bytes() == b"abc"


@pytest.fixture
def s3_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_s3_back_end_round_trip(s3_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Upload, dedupe, download and delete through the API with `files_url=s3://…` on a real S3 server."""
    import boto3

    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(key, value)  # the standard AWS environment is honoured
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket="deskbase")
    settings = Settings(
        data_dir=str(tmp_path),
        replicate=False,
        sla_scheduler=False,
        webhooks=False,
        files_url="s3://deskbase/tenant-a/files",
        files_s3_endpoint_url=s3_server,
        files_s3_region="us-east-1",
    )
    core, app = build(settings)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    h = {"Authorization": f"Bearer {raw}"}
    body = bytes(range(256)) * 4096  # 1 MiB: several chunks each way
    with TestClient(app, raise_server_exceptions=False) as client:
        client.put("/v1/workspaces/acme", json={"name": "A"}, headers=h)
        a = client.post(
            "/v1/workspaces/acme/files", files={"file": ("a.bin", body, "application/zip")}, headers=h
        )
        b = client.post(
            "/v1/workspaces/acme/files", files={"file": ("b.bin", body, "application/zip")}, headers=h
        )
        assert a.status_code == b.status_code == 201, a.text
        blobs = core.files.blobs
        assert isinstance(blobs, S3Blobs)
        listed = blobs.client.list_objects_v2(Bucket="deskbase")["Contents"]
        assert [o["Key"] for o in listed] == [f"tenant-a/files/{a.json()['sha256']}"]  # stored once
        got = client.get(f"/v1/workspaces/acme/files/{a.json()['id']}/content", headers=h)
        assert got.content == body and got.headers["content-type"] == "application/zip"
        assert client.delete(f"/v1/workspaces/acme/files/{a.json()['id']}", headers=h).status_code == 204
        assert blobs.exists(a.json()["sha256"])  # b still holds the same bytes
        assert client.delete(f"/v1/workspaces/acme/files/{b.json()['id']}", headers=h).status_code == 204
        assert not blobs.exists(a.json()["sha256"])
    assert list((tmp_path / "files" / "tmp").iterdir()) == []  # staging cleaned up
    core.close()


def test_a_bad_files_url_is_a_clear_error(tmp_path: Path) -> None:
    from deskbase.core.errors import Unavailable

    with pytest.raises(Unavailable, match="s3://bucket/prefix"):
        open_blobs(Settings(data_dir=str(tmp_path), files_url="ftp://x/y"))

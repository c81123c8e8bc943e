"""Files over HTTP on both stores: upload/download round trip, dedupe, limits, serving rules, permissions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.server import build
from tests.conftest import Api

WS = "/v1/workspaces/acme"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def files_api(tmp_path: Path, clock: FixedClock, store_url: str) -> Iterator[Api]:
    settings = Settings(
        data_dir=str(tmp_path),
        database_url=store_url,
        replicate=False,
        sla_scheduler=False,
        webhooks=False,
        max_file_bytes=300_000,
    )
    core, app = build(settings, clock)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        a = Api(client, raw)
        a.core = core  # type: ignore[attr-defined]
        assert a.put(WS, json={"name": "Acme"}).status_code == 201
        assert a.post(f"{WS}/templates/support").status_code == 200
        assert a.put("/v1/workspaces/other", json={"name": "Other"}).status_code == 201
        assert a.post("/v1/workspaces/other/templates/support").status_code == 200
        yield a


def upload(api: Api, name: str, content: bytes, ctype: str, ws: str = WS, token: str = "default") -> Any:
    return api.post(f"{ws}/files", files={"file": (name, content, ctype)}, token=token)


def token(api: Api, *grants: tuple[list[str], list[str] | None]) -> str:
    out = []
    for perms, colls in grants:
        scope: dict[str, Any] = {"workspaces": ["acme"]}
        if colls:
            scope["collections"] = colls
        out.append({"scope": scope, "permissions": perms})
    raw, _ = api.core.tokens.create("t", out)  # type: ignore[attr-defined]
    return raw


def test_upload_and_download_round_trip(files_api: Api) -> None:
    body = bytes(range(256)) * 1000  # 256,000 bytes: several chunks on the way in and out
    r = upload(files_api, "report.pdf", body, "application/pdf")
    assert r.status_code == 201, r.text
    meta = r.json()
    assert set(meta) == {"id", "name", "content_type", "size", "sha256", "created_at", "created_by"}
    assert (meta["name"], meta["content_type"], meta["size"]) == ("report.pdf", "application/pdf", len(body))
    assert files_api.get(f"{WS}/files/{meta['id']}").json() == meta
    got = files_api.get(f"{WS}/files/{meta['id']}/content")
    assert got.status_code == 200 and got.content == body
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-length"] == str(len(body))
    assert got.headers["etag"] == f'"{meta["sha256"]}"'


def test_an_rfc_8187_filename_is_understood(files_api: Api) -> None:
    raw = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"; '
        b"filename*=UTF-8''%E2%82%AC%20rates.txt\r\n\r\nx\r\n--b--\r\n"
    )
    r = files_api.post(
        f"{WS}/files", content=raw, headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert (r.json()["name"], r.json()["content_type"]) == ("€ rates.txt", "application/octet-stream")


def test_the_same_content_is_stored_once(files_api: Api, tmp_path: Path) -> None:
    a = upload(files_api, "a.txt", b"same bytes", "text/plain").json()
    b = upload(files_api, "b.txt", b"same bytes", "text/plain").json()
    assert a["id"] != b["id"] and a["sha256"] == b["sha256"]
    blobs = [p for p in (tmp_path / "files").rglob("*") if p.is_file() and p.parent.name != "tmp"]
    assert [p.name for p in blobs] == [a["sha256"]]
    assert not list((tmp_path / "files" / "tmp").iterdir())  # no staged leftovers


def test_a_file_over_the_limit_is_refused_and_nothing_is_stored(files_api: Api, tmp_path: Path) -> None:
    r = upload(files_api, "big.bin", b"x" * 300_001, "application/octet-stream")
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []
    with files_api.core.db.read() as conn:  # type: ignore[attr-defined]
        assert conn.exec_driver_sql("SELECT count(*) FROM files").scalar() == 0
    huge = files_api.post(
        f"{WS}/files", content=b"x" * 400_000, headers={"content-type": "multipart/form-data"}
    )
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "file_too_large"


@pytest.mark.parametrize(
    ("ctype", "served", "inline"),
    [
        ("image/png", "image/png", True),
        ("image/jpeg", "image/jpeg", True),
        ("image/webp", "image/webp", True),
        ("image/svg+xml", "application/octet-stream", False),
        ("text/html", "application/octet-stream", False),
        ("application/xhtml+xml", "application/octet-stream", False),
        ("text/javascript", "application/octet-stream", False),
        ("text/plain", "text/plain", False),
        ("application/pdf", "application/pdf", False),
        ("not a type", "application/octet-stream", False),
    ],
)
def test_downloads_are_never_pages(files_api: Api, ctype: str, served: str, inline: bool) -> None:
    meta = upload(files_api, 'x"; evil=1\r\n.html', b"<html><script>alert(1)</script></html>", ctype).json()
    r = files_api.get(f"{WS}/files/{meta['id']}/content")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-type"] == served
    assert "sandbox" in r.headers["content-security-policy"]
    disp = r.headers["content-disposition"]
    assert disp.startswith("inline;" if inline else "attachment;")
    assert "\r" not in disp and "\n" not in disp and disp.count('"') == 2


def test_filenames_are_sanitised_and_sent_as_rfc6266(files_api: Api) -> None:
    raw = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="..\\..\\etc/Gr\xc3\xbc\xc3\x9fe\x07.txt"'
        b"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n"
    )
    sent = files_api.post(
        f"{WS}/files", content=raw, headers={"content-type": "multipart/form-data; boundary=b"}
    )
    meta = sent.json()
    assert meta["name"] == "Grüße_.txt"
    disp = files_api.get(f"{WS}/files/{meta['id']}/content").headers["content-disposition"]
    kind, fallback, exact = disp.split("; ")
    assert (kind, exact) == ("attachment", "filename*=UTF-8''Gr%C3%BC%C3%9Fe_.txt")
    assert fallback.isascii() and fallback.startswith('filename="Gru') and fallback.endswith('_.txt"')


def test_attachments_must_name_files_of_the_workspace(files_api: Api) -> None:
    mine = upload(files_api, "a.png", PNG, "image/png").json()["id"]
    theirs = upload(files_api, "b.png", PNG, "image/png", ws="/v1/workspaces/other").json()["id"]
    bad = files_api.post(
        f"{WS}/records/tickets",
        json={"data": {"subject": "s", "status": "open", "priority": "low", "attachments": [mine, theirs]}},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["errors"] == [
        {"pointer": "/data/attachments/1", "message": f"no file {theirs!r} in this workspace"}
    ]
    ok = files_api.post(
        f"{WS}/records/tickets",
        json={"data": {"subject": "s", "status": "open", "priority": "low", "attachments": [mine]}},
    )
    assert ok.status_code == 201
    batch = files_api.post(
        f"{WS}/batch",
        json={
            "operations": [
                {
                    "type": "upsert_record",
                    "collection": "responses",
                    "data": {"body": "b", "type": "reply", "attachments": ["nope"]},
                }
            ]
        },
    )
    assert batch.status_code == 422 and batch.json()["error"]["details"]["operation_index"] == 0


def test_read_access_follows_the_records_that_refer_to_a_file(files_api: Api) -> None:
    api = files_api
    uploader = token(api, (["write:files", "read:files", "write:records", "write:relationships"], None))
    ticket_reader = token(api, (["read:files", "read:records"], ["tickets"]))
    customer_reader = token(api, (["read:files", "read:records"], ["customers"]))
    no_files = token(api, (["read:records"], None))
    fid = upload(api, "shot.png", PNG, "image/png", token=uploader).json()["id"]
    content = f"{WS}/files/{fid}/content"

    assert api.get(content, token=uploader).status_code == 200  # the uploader, before any reference
    assert api.get(content, token=ticket_reader).status_code == 404  # nothing refers to it yet
    ticket = api.post(
        f"{WS}/records/tickets",
        json={"data": {"subject": "s", "status": "open", "priority": "low"}},
    ).json()
    reply = api.post(
        f"{WS}/tickets/{ticket['id']}/responses",
        json={"body": "see attached", "attachments": [fid]},
        token=uploader,
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["data"]["attachments"] == [fid]
    # Referred to by a response: readers of responses may read it; readers of tickets only may not.
    assert api.get(content, token=ticket_reader).status_code == 404
    assert api.get(content, token=uploader).status_code == 404  # it no longer reads responses itself
    api.patch(f"{WS}/records/tickets/{ticket['id']}", json={"data": {"attachments": [fid]}})
    assert api.get(content, token=ticket_reader).content == PNG
    assert api.get(content, token=customer_reader).status_code == 404
    denied = api.get(content, token=no_files)
    assert denied.status_code == 403 and denied.json()["error"]["details"]["permission"] == "read:files"
    # Dropping the reference takes the access with it (the index follows every write).
    api.patch(f"{WS}/records/tickets/{ticket['id']}", json={"data": {"attachments": []}})
    assert api.get(content, token=ticket_reader).status_code == 404
    assert api.get(f"/v1/workspaces/other/files/{fid}").status_code == 404


def test_scopes_write_files_and_cross_workspace(files_api: Api) -> None:
    reader = token(files_api, (["read:files", "read:records"], None))
    r = upload(files_api, "a.txt", b"a", "text/plain", token=reader)
    assert r.status_code == 403 and r.json()["error"]["details"]["permission"] == "write:files"
    elsewhere, _ = files_api.core.tokens.create(  # type: ignore[attr-defined]
        "o", [{"scope": {"workspaces": ["other"]}, "permissions": ["*"]}]
    )
    fid = upload(files_api, "a.txt", b"a", "text/plain").json()["id"]
    assert files_api.get(f"{WS}/files/{fid}", token=elsewhere).status_code == 404
    assert upload(files_api, "a.txt", b"a", "text/plain", token=elsewhere).status_code == 404


def test_attaching_a_file_needs_read_access_to_it(files_api: Api) -> None:
    secret = upload(files_api, "secret.txt", b"s", "text/plain").json()["id"]
    writer = token(files_api, (["write:records", "read:records", "read:files"], None))
    r = files_api.post(
        f"{WS}/records/tickets",
        json={"data": {"subject": "s", "status": "open", "priority": "low", "attachments": [secret]}},
        token=writer,
    )
    assert r.status_code == 422 and "not readable" in r.text


def test_delete_while_unreferenced_by_the_uploader(files_api: Api, tmp_path: Path) -> None:
    api = files_api
    uploader = token(api, (["write:files", "read:files"], None))
    other = token(api, (["write:files", "read:files"], None))
    meta = upload(api, "a.txt", b"bye", "text/plain", token=uploader).json()
    assert api.delete(f"{WS}/files/{meta['id']}", token=other).status_code == 404  # not its file to see
    ticket = api.post(
        f"{WS}/records/tickets",
        json={"data": {"subject": "s", "status": "open", "priority": "low", "attachments": [meta["id"]]}},
    ).json()
    assert api.delete(f"{WS}/files/{meta['id']}").status_code == 409
    api.patch(f"{WS}/records/tickets/{ticket['id']}", json={"data": {"attachments": []}})
    assert api.delete(f"{WS}/files/{meta['id']}", token=uploader).status_code == 204
    assert api.get(f"{WS}/files/{meta['id']}").status_code == 404
    assert not (tmp_path / "files" / meta["sha256"][:2] / meta["sha256"][2:4] / meta["sha256"]).exists()


def test_deleting_one_of_two_uploads_keeps_the_shared_bytes(files_api: Api) -> None:
    a = upload(files_api, "a.txt", b"shared", "text/plain").json()
    b = upload(files_api, "b.txt", b"shared", "text/plain").json()
    assert files_api.delete(f"{WS}/files/{a['id']}").status_code == 204
    assert files_api.get(f"{WS}/files/{b['id']}/content").content == b"shared"


def test_the_template_upgrade_adds_attachments(files_api: Api) -> None:
    """A workspace whose template predates attachments gets them by applying the template again."""
    from deskbase.support.template import definition

    old = definition()
    for coll in old["collections"]:
        coll["json_schema"]["properties"].pop("attachments", None)
        if coll["id"] in ("tickets", "responses"):
            r = files_api.put(
                f"/v1/workspaces/acme/collections/{coll['id']}",
                json={k: coll[k] for k in ("name", "json_schema")},
            )
            assert r.status_code == 200, r.text
    fid = upload(files_api, "a.txt", b"a", "text/plain").json()["id"]
    data = {"subject": "s", "status": "open", "priority": "low", "attachments": [fid]}
    ticket = files_api.post(f"{WS}/records/tickets", json={"data": data}).json()  # no x-files: just data
    assert files_api.post(f"{WS}/templates/support").status_code == 200
    schema = files_api.get(f"{WS}/collections/tickets").json()["json_schema"]
    assert schema["properties"]["attachments"]["x-files"] is True
    with files_api.core.db.read() as conn:  # type: ignore[attr-defined]
        refs = conn.exec_driver_sql("SELECT file_id, collection, record_id FROM file_refs").all()
    assert [tuple(r) for r in refs] == [(fid, "tickets", ticket["id"])]  # re-indexed on the schema change

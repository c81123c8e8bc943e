"""Attachments on the ticket page through the console: the composer uploads files with a reply or a note
(multipart with CSRF, with and without htmx), messages list their files (images as lazy thumbnails), and the
console's content route serves the bytes under core.files' read rule with the API's own headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from deskbase.config import Settings
from deskbase.core import tables as t
from deskbase.core.clock import FixedClock
from deskbase.server import build
from tests.web.conftest import WS, Console, csrf_of, seed_workspace

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LIMIT = 4096
HOSTILE_NAME = "<img src=x onerror=alert(1)>.png"


@pytest.fixture
def console(tmp_path: Path, clock: FixedClock) -> Iterator[Console]:
    """Signed in as the admin; uploads over LIMIT bytes are refused."""
    core, app = build(
        Settings(reply_hold_seconds=0, data_dir=str(tmp_path), replicate=False, max_file_bytes=LIMIT), clock
    )
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    seed = seed_workspace(core)
    with TestClient(app) as client:
        assert app.state.console.warmed()
        c = Console(client, core, raw, seed)
        assert c.sign_in().status_code == 303
        yield c


def send(
    c: Console,
    fields: dict[str, Any],
    files: list[tuple[str, bytes, str]],
    htmx: bool = False,
    csrf: bool = True,
    key: str = "export",
) -> Any:
    """Post the composer as a browser does: multipart/form-data, the file input as one part per chosen file
    (or one empty part with `filename=""` when none was chosen)."""
    data = dict(fields)
    if csrf:
        data["csrf"] = c.csrf()
    boundary = "----deskbasetestboundary"
    out = b""
    for name, value in data.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for name, body, kind in files or [("", b"", "application/octet-stream")]:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        out += (head + f"Content-Type: {kind}\r\n\r\n").encode() + body + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    if htmx:
        headers["HX-Request"] = "true"
    return c.client.post(c.ticket_url(key, "/reply"), content=out, headers=headers, follow_redirects=False)


def stored_files(c: Console) -> int:
    with c.core.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.files)).scalar_one())


def last_response(c: Console, key: str = "export") -> dict[str, Any]:
    conv = c.core.records.query(WS, "responses", None, [{"field": "created_at", "direction": "desc"}], 1)
    assert conv["data"]
    return conv["data"][0]


def test_a_reply_carries_files_and_the_page_shows_them(console: Console) -> None:
    c = console
    page = c.get(c.ticket_url("export")).text
    assert 'enctype="multipart/form-data"' in page and 'id="composer-files" name="files" multiple' in page
    r = send(
        c,
        {"body": "Screenshot and log attached", "type": "reply"},
        [("screen.png", PNG, "image/png"), ("app.log", b"line 1\nline 2\n", "text/plain")],
    )
    assert r.status_code == 303 and r.headers["location"].endswith("#conversation")
    resp = last_response(c)
    assert resp["data"]["body"] == "Screenshot and log attached" and len(resp["data"]["attachments"]) == 2
    png_id, log_id = resp["data"]["attachments"]
    page = c.get(c.ticket_url("export")).text
    img = f'<img src="/w/{WS}/files/{png_id}/content" alt="screen.png" loading="lazy"'
    assert img in page
    assert f'<a href="/w/{WS}/files/{log_id}/content" download' in page and "app.log" in page
    assert "14 bytes" in page and "72 bytes" in page
    # the bytes, with the API's own headers
    got = c.get(f"/w/{WS}/files/{png_id}/content")
    assert got.status_code == 200 and got.content == PNG
    api = c.client.get(
        f"/v1/workspaces/{WS}/files/{png_id}/content", headers={"Authorization": f"Bearer {c.token}"}
    )
    for name in (
        "content-type",
        "content-disposition",
        "content-security-policy",
        "x-content-type-options",
        "etag",
    ):
        assert got.headers[name] == api.headers[name], name
    assert got.headers["content-disposition"].startswith("inline")
    log = c.get(f"/w/{WS}/files/{log_id}/content")
    assert log.headers["content-disposition"].startswith("attachment") and log.text == "line 1\nline 2\n"


def test_htmx_sends_a_note_with_a_file_and_gets_the_panels_back(console: Console) -> None:
    c = console
    r = send(
        c,
        {"body": "Internal: the trace", "type": "internal_note"},
        [("trace.txt", b"boom", "text/plain")],
        htmx=True,
    )
    assert r.status_code == 200 and "Note added." in r.text and "trace.txt" in r.text
    assert 'hx-swap-oob="true"' in r.text
    assert last_response(c)["data"]["type"] == "internal_note"


def test_without_files_a_multipart_reply_is_a_plain_reply(console: Console) -> None:
    c = console
    before = stored_files(c)
    r = send(c, {"body": "No files here"}, [])
    assert r.status_code == 303 and stored_files(c) == before
    assert "attachments" not in last_response(c)["data"]


def test_a_refused_message_keeps_its_files_for_the_next_try(console: Console) -> None:
    c = console
    r = send(c, {"body": "  "}, [("a.txt", b"aaa", "text/plain")])
    assert r.status_code == 422 and "Write a message first." in r.text
    kept = re.search(r'<input type="checkbox" name="attachments" value="([^"]+)" id="kept-', r.text)
    assert kept and "a.txt" in r.text
    r = c.post(c.ticket_url("export", "/reply"), {"body": "Now with text", "attachments": kept.group(1)})
    assert r.status_code == 303
    assert last_response(c)["data"]["attachments"] == [kept.group(1)]


def test_an_oversized_file_is_named_and_the_text_survives(console: Console) -> None:
    c = console
    r = send(
        c,
        {"body": "Two files"},
        [("big.bin", b"x" * (LIMIT + 1), "application/octet-stream"), ("ok.txt", b"ok", "text/plain")],
    )
    assert r.status_code == 422 and "big.bin" in r.text and "over the 4 KiB limit" in r.text
    assert ">Two files</textarea>" in r.text and 'id="kept-' in r.text and "ok.txt" in r.text
    assert stored_files(c) == 1  # ok.txt only; nothing of big.bin is kept


def test_a_hostile_file_name_is_shown_as_text(console: Console) -> None:
    c = console
    assert send(c, {"body": "see"}, [(HOSTILE_NAME, PNG, "image/png")]).status_code == 303
    page = c.get(c.ticket_url("export")).text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.png" in page


def test_no_csrf_no_file(console: Console) -> None:
    c = console
    before = stored_files(c)
    r = send(c, {"body": "forged"}, [("a.txt", b"aaa", "text/plain")], csrf=False)
    assert r.status_code == 403 and stored_files(c) == before


def test_who_may_read_an_attachment(console: Console) -> None:
    """Readable through a record the token may read: responses readers with read:files see it; a token
    that reads tickets only, or lacks read:files, gets the same 404 (or 403) as for no file at all."""
    c = console
    send(c, {"body": "with file"}, [("a.png", PNG, "image/png")])
    (fid,) = last_response(c)["data"]["attachments"]
    href = f"/w/{WS}/files/{fid}/content"
    assert c.get(f"/w/{WS}/files/nope/content").status_code == 404
    reader = [
        {"scope": {"workspaces": [WS]}, "permissions": ["read:records", "read:relationships", "read:files"]}
    ]
    tickets_only = [
        {
            "scope": {"workspaces": [WS], "collections": ["tickets"]},
            "permissions": ["read:records", "read:files"],
        }
    ]
    no_files = [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "read:relationships"]}]
    expect = {"reader": (reader, 200), "tickets-only": (tickets_only, 404), "no-files": (no_files, 403)}
    for name, (grants, status) in expect.items():
        raw, _ = c.core.tokens.create(name, grants)
        c.client.cookies.clear()
        assert c.sign_in(raw).status_code == 303
        assert c.get(href).status_code == status, name
        page = c.get(c.ticket_url("export")).text
        if name == "reader":
            assert f'src="{href}"' in page and 'id="composer-files"' not in page  # may not upload
        elif name == "no-files":
            assert href not in page and "1 attachment your token may not read" in page


def test_an_agent_without_write_files_cannot_upload(console: Console) -> None:
    c = console
    grants = [
        {
            "scope": {"workspaces": [WS]},
            "permissions": ["read:records", "write:records", "read:relationships", "write:relationships"],
        }
    ]
    raw, _ = c.core.tokens.create("agent", grants)
    c.client.cookies.clear()
    assert c.sign_in(raw).status_code == 303
    page = c.get(c.ticket_url("export")).text
    assert 'id="composer-files"' not in page and "multipart" not in page
    before = stored_files(c)
    r = c.client.post(
        c.ticket_url("export", "/reply"),
        data={"body": "sneaky", "csrf": csrf_of(page)},
        files=[("files", ("a.txt", b"aaa", "text/plain"))],
        follow_redirects=False,
    )
    assert r.status_code == 403 and stored_files(c) == before

"""Console form bodies have limits, and a post over one gets a 413 page (never the API's JSON, never a body
read whole): every form's text is capped as the composer's is (web/form_body.py); a body past the server's
`max_body_bytes` is refused by the body cap with a page; the composer may post files up to its own limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.server import build
from deskbase.web.form_body import MAX_TEXT
from tests.conftest import START
from tests.web.conftest import WS, Console, seed_workspace

BODY_CAP = 3 * 1024 * 1024  #: the server's max_body_bytes here: above the form limit, below a big file
FILE_CAP = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    data = tmp_path_factory.mktemp("form-limits")
    settings = Settings(
        reply_hold_seconds=0,
        data_dir=str(data),
        replicate=False,
        max_body_bytes=BODY_CAP,
        max_file_bytes=FILE_CAP,
    )
    core, app = build(settings, FixedClock(START))
    raw, _ = core.tokens.ensure_admin_token(data)
    seed = seed_workspace(core)
    with TestClient(app) as client:
        assert app.state.console.warmed()
        c = Console(client, core, raw, seed)
        assert c.sign_in().status_code == 303
        yield c


def prefs(c: Console) -> dict[str, object]:
    return dict(c.core.preferences.get(c.core.tokens.authenticate(c.token).id))


def test_a_form_over_the_text_limit_is_a_413_page_and_saves_nothing(console: Console) -> None:
    c = console
    before = prefs(c)
    r = c.post("/settings", {"me": "x" * (MAX_TEXT + 10), "back": "/"})
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "larger than 2 MiB" in r.text and "nothing was saved" in r.text and "<html" in r.text
    assert prefs(c) == before


def test_a_multipart_form_over_the_text_limit_is_refused_too(console: Console) -> None:
    c = console
    before = prefs(c)
    r = c.client.post(
        "/settings",
        data={"me": "y" * (MAX_TEXT + 10), "csrf": c.csrf()},
        files={"ignored": ("a.txt", b"file parts are skipped", "text/plain")},
        follow_redirects=False,
    )
    assert r.status_code == 413 and "larger than 2 MiB" in r.text
    assert prefs(c) == before


def test_a_form_within_the_limit_still_saves(console: Console) -> None:
    c = console
    r = c.post("/settings", {"me": "zoe@acme.example", "back": "/", "shortcuts": "on"})
    assert r.status_code == 303 and prefs(c)["me"] == "zoe@acme.example"
    r = c.client.post(
        "/settings",
        data={"me": "ana@acme.example", "csrf": c.csrf(), "back": "/"},
        files={"skipped": ("a.txt", b"never stored", "text/plain")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and prefs(c)["me"] == "ana@acme.example"


def test_past_the_servers_body_cap_a_console_post_gets_a_page_and_the_api_json(console: Console) -> None:
    c = console
    big = b"me=" + b"z" * BODY_CAP
    r = c.client.post(
        "/settings",
        content=big,
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "nothing was saved" in r.text and "<script" not in r.text
    api = c.client.post(
        f"/v1/workspaces/{WS}/records/tickets",
        content=b'{"data": "' + b"z" * BODY_CAP + b'"}',
        headers={"content-type": "application/json", "authorization": f"Bearer {c.token}"},
    )
    assert api.status_code == 413 and api.json()["error"]["code"] == "payload_too_large"


def test_the_composer_takes_a_file_larger_than_the_body_cap(console: Console) -> None:
    """A file may be as large as max_file_bytes however small max_body_bytes is: the composer streams it."""
    c = console
    blob = b"\x00" * (BODY_CAP + 1024)
    r = c.client.post(
        c.ticket_url("export", "/reply"),
        data={"body": "the full dump", "csrf": c.csrf()},
        files={"files": ("dump.bin", blob, "application/octet-stream")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    sent = c.core.records.query(WS, "responses", {"field": "data.body", "op": "eq", "value": "the full dump"})
    (fid,) = sent["data"][0]["data"]["attachments"]
    assert c.get(f"/w/{WS}/files/{fid}/content").content == blob

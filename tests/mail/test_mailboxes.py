"""Mailboxes over HTTP: create/replace/read/list/delete, write-only passwords sealed at rest, workspace admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from deskbase.mail.service import Mail
from deskbase.mail.tables import mailboxes
from tests.conftest import Api
from tests.mail.conftest import ADDRESS

BASE = "/v1/workspaces/acme/mailboxes"
IMAP = {
    "kind": "imap",
    "host": "imap.acme.test",
    "port": 993,
    "username": "support",
    "password": "hunter2-imap",
}
SMTP = {"host": "smtp.acme.test", "port": 587, "username": "support", "password": "hunter2-smtp"}


def body(**over: Any) -> dict[str, Any]:
    return {"address": "help@acme.test", "name": "Help", "inbound": IMAP, "outbound": SMTP, **over}


def stored(api: Api, mid: str) -> Any:
    with api.core.db.read() as conn:  # type: ignore[attr-defined]
        return conn.execute(select(mailboxes).where(mailboxes.c.id == mid)).one()


def test_a_mailbox_round_trip_never_returns_its_passwords(mapi: Api) -> None:
    r = mapi.put(f"{BASE}/help", json=body())
    assert r.status_code == 201, r.text
    out = r.json()
    assert "hunter2" not in r.text
    assert out["inbound"] == {
        "kind": "imap", "host": "imap.acme.test", "port": 993, "username": "support", "folder": "INBOX",
        "tls": "ssl", "password_set": True,
    }  # fmt: skip
    assert out["outbound"] == {
        "host": "smtp.acme.test",
        "port": 587,
        "username": "support",
        "tls": "starttls",
        "password_set": True,
    }
    for got in (mapi.get(f"{BASE}/help"), mapi.get(BASE)):
        assert got.status_code == 200 and "hunter2" not in got.text
    assert [m["id"] for m in mapi.get(BASE).json()["data"]] == ["help", "support"]
    row = stored(mapi, "help")
    assert "hunter2" not in str(row.inbound_password) and "hunter2" not in str(row.outbound_password)
    box = mapi.core.extensions[Mail].mailboxes  # type: ignore[attr-defined]
    assert box.password(row.inbound_password) == "hunter2-imap"
    assert box.password(row.outbound_password) == "hunter2-smtp"


def test_a_replace_without_a_password_keeps_it_and_an_empty_one_clears_it(mapi: Api) -> None:
    assert mapi.put(f"{BASE}/help", json=body()).status_code == 201
    kept = {k: v for k, v in IMAP.items() if k != "password"}
    r = mapi.put(f"{BASE}/help", json=body(name="Help desk", inbound=kept))
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["inbound"]["password_set"] is True
    assert (
        mapi.core.extensions[Mail].mailboxes.password(stored(mapi, "help").inbound_password) == "hunter2-imap"
    )  # type: ignore[attr-defined]
    r = mapi.put(f"{BASE}/help", json=body(outbound={**SMTP, "password": ""}))
    assert r.json()["outbound"]["password_set"] is False and stored(mapi, "help").outbound_password is None


def test_the_address_is_lower_cased_and_the_default_inbound_is_the_api(mapi: Api) -> None:
    r = mapi.put(f"{BASE}/sales", json={"address": "Sales@Acme.TEST"})
    assert r.status_code == 201
    assert r.json()["address"] == "sales@acme.test" and r.json()["inbound"] == {"kind": "api"}
    assert r.json()["outbound"] is None and r.json()["auto_acknowledge"] is False


def test_ports_and_tls_left_out_take_the_documented_defaults(mapi: Api) -> None:
    imap = {"kind": "imap", "host": "imap.acme.test", "username": "support"}
    r = mapi.put(f"{BASE}/help", json=body(inbound=imap, outbound={"host": "smtp.acme.test"}))
    assert r.status_code == 201, r.text
    assert (r.json()["inbound"]["port"], r.json()["inbound"]["tls"]) == (993, "ssl")
    assert (r.json()["outbound"]["port"], r.json()["outbound"]["tls"]) == (587, "starttls")


@dataclass(frozen=True)
class Bad:
    name: str
    body: dict[str, Any]
    pointer: str


BAD = [
    Bad("no address", {"inbound": {"kind": "api"}}, "/address"),
    Bad("not an address", {"address": "nope"}, "/address"),
    Bad("a plus tag", {"address": "help+1@acme.test"}, "/address"),
    Bad("unknown kind", {"address": ADDRESS, "inbound": {"kind": "pop3"}}, "/inbound"),
    Bad("imap without host", {"address": ADDRESS, "inbound": {"kind": "imap", "username": "u"}}, "/inbound"),
    Bad(
        "port out of range", {"address": ADDRESS, "outbound": {"host": "h", "port": 70000}}, "/outbound/port"
    ),
    Bad("bad tls", {"address": ADDRESS, "outbound": {"host": "h", "tls": "maybe"}}, "/outbound/tls"),
    Bad("unknown field", {"address": ADDRESS, "colour": "red"}, "/colour"),
]


@pytest.mark.parametrize("case", BAD, ids=[c.name for c in BAD])
def test_invalid_mailboxes_are_refused_with_a_pointer(mapi: Api, case: Bad) -> None:
    r = mapi.put(f"{BASE}/bad", json=case.body)
    assert r.status_code == 422, r.text
    pointers = [e["pointer"] for e in r.json()["error"]["details"]["errors"]]
    assert any(p.startswith(case.pointer) for p in pointers), pointers
    assert mapi.get(f"{BASE}/bad").status_code == 404


def test_managing_mailboxes_needs_workspace_admin(mapi: Api) -> None:
    core = mapi.core  # type: ignore[attr-defined]
    writer, _ = core.tokens.create(
        "writer", [{"scope": {"workspaces": ["acme"]}, "permissions": ["read:records", "write:records"]}]
    )
    narrow, _ = core.tokens.create(
        "narrow", [{"scope": {"workspaces": ["acme"], "collections": ["tickets"]}, "permissions": ["admin"]}]
    )
    for token in (writer, narrow):
        assert mapi.put(f"{BASE}/x", json=body(), token=token).status_code == 403
        assert mapi.get(f"{BASE}/support", token=token).status_code == 403
        assert mapi.get(BASE, token=token).status_code == 403
        assert mapi.delete(f"{BASE}/support", token=token).status_code == 403
    assert mapi.get(f"{BASE}/support", token=None).status_code == 401


def test_delete_and_a_deleted_workspace_take_their_mailboxes(mapi: Api) -> None:
    assert mapi.put(f"{BASE}/help", json=body()).status_code == 201
    assert mapi.delete(f"{BASE}/help").status_code == 204
    assert mapi.get(f"{BASE}/help").status_code == 404
    assert mapi.delete(f"{BASE}/help").status_code == 404
    assert mapi.delete("/v1/workspaces/acme").status_code == 204
    assert mapi.put("/v1/workspaces/acme", json={"name": "Acme again"}).status_code == 201
    assert mapi.get(BASE).json() == {"data": []}

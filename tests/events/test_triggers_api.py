"""Trigger management over HTTP: create (secret shown once), read, list, update, delete, rotate; errors and
permissions; secrets never stored or shown in the clear."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from deskbase.events.service import Webhooks
from deskbase.events.tables import triggers, webhook_attempts, webhook_deliveries
from tests.conftest import Api

BASE = "/v1/workspaces/acme/triggers"


def body(url: str = "https://hooks.example.com/in", **kw: Any) -> dict[str, Any]:
    return {"url": url, "events": ["record.created"], **kw}


def test_create_shows_the_secret_once_and_update_does_not(wapi: Api) -> None:
    r = wapi.put(f"{BASE}/crm", json=body(description="to the CRM"))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_")
    assert created["enabled"] is True and created["disabled_reason"] is None
    assert r.headers["cache-control"] == "no-store"
    again = wapi.put(f"{BASE}/crm", json=body(events=["*"], collections=["tickets"]))
    assert again.status_code == 200
    assert "secret" not in again.json() and again.json()["events"] == ["*"]
    assert "secret" not in wapi.get(f"{BASE}/crm").json()
    assert [t["id"] for t in wapi.get(BASE).json()["data"]] == ["crm"]
    with wapi.core.db.read() as conn:  # type: ignore[attr-defined]
        stored = conn.execute(select(triggers.c.secret)).scalar()
    assert created["secret"] not in stored and not stored.startswith("whsec_")


def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_a_day(wapi: Api) -> None:
    first = wapi.put(f"{BASE}/crm", json=body()).json()["secret"]
    r = wapi.post(f"{BASE}/crm/rotate-secret")
    assert r.status_code == 200
    assert r.json()["secret"] != first and r.json()["secret"].startswith("whsec_")
    assert r.json()["previous_secret_valid_until"] is not None
    core = wapi.core  # type: ignore[attr-defined]
    store = core.extensions[Webhooks].triggers
    with core.db.read() as conn:
        row = conn.execute(select(triggers)).one()
    now = core.clock.now()
    assert store.signing_secrets(row, now) == [r.json()["secret"], first]
    core.clock.advance(hours=24, seconds=1)
    assert store.signing_secrets(row, core.clock.now()) == [r.json()["secret"]]


def test_delete(wapi: Api) -> None:
    wapi.put(f"{BASE}/crm", json=body())
    assert wapi.delete(f"{BASE}/crm").status_code == 204
    assert wapi.get(f"{BASE}/crm").status_code == 404
    assert wapi.delete(f"{BASE}/crm").json()["error"]["code"] == "not_found"


@dataclass
class Bad:
    id: str
    body: dict[str, Any]
    status: int
    pointer: str | None = None


BAD = [
    Bad("ftp url", body("ftp://x.example.com/"), 422, "/url"),
    Bad("relative url", body("/hook"), 422, "/url"),
    Bad("loopback literal", body("http://127.0.0.1:9/x") | {}, 422, "/url"),
    Bad("metadata address", body("http://169.254.169.254/latest"), 422, "/url"),
    Bad("unknown event", body(events=["record.exploded"]), 422, "/events/0"),
    Bad("no events", body(events=[]), 422, "/events"),
    Bad(
        "bad filter op", body(filter={"field": "data.status", "op": "almost", "value": 1}), 422, "/filter/op"
    ),
    Bad("bad filter field", body(filter={"field": "data.no-pe", "op": "eq", "value": 1}), 422, "/filter"),
    Bad("bad collection", body(collections=["Not A Slug!"]), 422, "/collections/0"),
    Bad("unknown key", body(colour="red"), 422),
]


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_bad_triggers_are_422_with_pointers(tmp_path: Any, live_clock: Any, case: Bad) -> None:
    from tests.events.conftest import hooks_api

    with hooks_api(tmp_path, live_clock, webhook_allow_networks="") as api:
        r = api.put(f"{BASE}/t1", json=case.body)
        assert r.status_code == case.status, r.text
        err = r.json()["error"]
        assert err["code"] == "validation_failed"
        if case.pointer:
            assert case.pointer in [e["pointer"] for e in err["details"]["errors"]], err


def test_managing_triggers_needs_workspace_admin(wapi: Api) -> None:
    core = wapi.core  # type: ignore[attr-defined]
    writer, _ = core.tokens.create(
        "writer", [{"scope": {"workspaces": ["acme"]}, "permissions": ["read:records", "write:records"]}]
    )
    narrow, _ = core.tokens.create(
        "narrow", [{"scope": {"workspaces": ["acme"], "collections": ["tickets"]}, "permissions": ["admin"]}]
    )
    outsider, _ = core.tokens.create(
        "other", [{"scope": {"workspaces": ["other"]}, "permissions": ["admin"]}]
    )
    assert wapi.put(f"{BASE}/crm", json=body(), token=writer).status_code == 403
    assert wapi.put(f"{BASE}/crm", json=body(), token=narrow).status_code == 403
    assert wapi.put(f"{BASE}/crm", json=body(), token=outsider).status_code == 404
    assert wapi.get(BASE, token=writer).status_code == 403
    assert wapi.get(BASE, token=None).status_code == 401
    assert wapi.put("/v1/workspaces/nope/triggers/x", json=body()).status_code == 404


def test_deleting_the_workspace_deletes_its_triggers_and_their_log(wapi: Api) -> None:
    """A workspace made later under the same id must not inherit triggers (and their owners' grants)."""
    wapi.put(f"{BASE}/crm", json=body())
    assert wapi.post(f"{BASE}/crm/test").status_code in (200, 202)
    core = wapi.core  # type: ignore[attr-defined]
    with core.db.read() as conn:
        assert conn.execute(select(webhook_deliveries.c.id)).first() is not None
    assert wapi.delete("/v1/workspaces/acme").status_code in (200, 204)
    with core.db.read() as conn:
        assert conn.execute(select(webhook_deliveries.c.id)).first() is None
        assert conn.execute(select(webhook_attempts.c.delivery_id)).first() is None
    assert wapi.put("/v1/workspaces/acme", json={"name": "Acme again"}).status_code == 201
    assert wapi.get(BASE).json()["data"] == []
    assert wapi.get(f"{BASE}/crm").status_code == 404


def test_revoking_the_owner_token_stops_its_triggers_and_hooks(wapi: Api) -> None:
    """A trigger reads, and a hook writes, with the grants of the token that configured it: revoking that
    token (or the token it was minted from) disables both at once; a live token re-enables and owns them."""
    core = wapi.core  # type: ignore[attr-defined]
    parent, parent_row = core.tokens.create(
        "lead", [{"scope": {"workspaces": ["acme"]}, "permissions": ["admin"]}]
    )
    owner = wapi.post(
        "/v1/tokens",
        json={
            "name": "integration",
            "grants": [{"scope": {"workspaces": ["acme"]}, "permissions": ["admin"]}],
        },
        token=parent,
    ).json()
    other, _ = core.tokens.create("other", [{"scope": {"workspaces": ["acme"]}, "permissions": ["admin"]}])
    assert wapi.put(f"{BASE}/crm", json=body(), token=owner["token"]).status_code == 201
    assert wapi.put(f"{BASE}/kept", json=body(), token=other).status_code == 201
    mapping = {"subject": "/t", "status": {"const": "open"}, "priority": {"const": "low"}}
    hook = {"collection": "tickets", "mapping": mapping, "verify": "none"}
    made = wapi.put("/v1/workspaces/acme/hooks/shop", json=hook, token=owner["token"])
    assert made.status_code == 201, made.text
    ingest = made.json()["ingest_path"]
    assert wapi.post(ingest, json={"t": "before"}, token=None).status_code == 201

    assert wapi.delete(f"/v1/tokens/{parent_row['id']}").status_code == 200

    crm = wapi.get(f"{BASE}/crm").json()
    assert crm["enabled"] is False and "revoked" in crm["disabled_reason"]
    assert wapi.get(f"{BASE}/kept").json()["enabled"] is True
    assert wapi.get("/v1/workspaces/acme/hooks/shop").json()["enabled"] is False
    assert wapi.post(ingest, json={"t": "after"}, token=None).status_code == 404

    assert wapi.put(f"{BASE}/crm", json=body(), token=other).json()["enabled"] is True
    assert wapi.get(f"{BASE}/crm").json()["owner"] != owner["id"]
    again = wapi.put("/v1/workspaces/acme/hooks/shop", json=hook, token=other)
    assert again.status_code == 200 and again.json()["enabled"] is True
    assert wapi.post(ingest, json={"t": "again"}, token=None).status_code == 201


def test_if_match_replaces_only_the_version_read(wapi: Api) -> None:
    """Triggers and hooks take If-Match like records: a stale version is 412 and changes nothing."""
    v1 = wapi.put(f"{BASE}/crm", json=body()).json()["version"]
    assert (
        wapi.put(f"{BASE}/crm", json=body(description="a"), headers={"If-Match": str(v1)}).status_code == 200
    )
    stale = wapi.put(f"{BASE}/crm", json=body(description="b"), headers={"If-Match": f'"{v1}"'})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "version_mismatch"
    assert stale.json()["error"]["details"] == {"current_version": v1 + 1, "expected_version": v1}
    assert wapi.get(f"{BASE}/crm").json()["description"] == "a"
    assert wapi.put(f"{BASE}/new", json=body(), headers={"If-Match": "1"}).status_code == 412
    assert wapi.get(f"{BASE}/new").status_code == 404
    bad = wapi.put(f"{BASE}/crm", json=body(), headers={"If-Match": "soon"})
    assert bad.status_code == 400
    hook = {"collection": "tickets", "mapping": {"subject": "/t"}, "verify": "none"}
    made = wapi.put("/v1/workspaces/acme/hooks/shop", json=hook).json()
    stale = wapi.put(
        "/v1/workspaces/acme/hooks/shop", json=hook, headers={"If-Match": str(made["version"] + 1)}
    )
    assert stale.status_code == 412
    again = wapi.put("/v1/workspaces/acme/hooks/shop", json=hook, headers={"If-Match": str(made["version"])})
    assert again.status_code == 200 and again.json()["version"] == made["version"] + 1

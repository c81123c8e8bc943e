"""Tokens over HTTP: minting (shown once, stored hashed), the "equal or narrower" rule, expiry, revocation
with its cascade, what each token may list, and bad input that writes nothing."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from deskbase.core import tables as t
from deskbase.core.clock import FixedClock
from tests.conftest import Api

W = "/v1/workspaces/acme"
T = {"subject": "Login fails", "status": "open", "priority": "high"}


def grant(*perms: str, ws: str = "acme", collections: list[str] | None = None) -> dict[str, Any]:
    scope: dict[str, Any] = {"workspaces": [ws]}
    if collections is not None:
        scope["collections"] = collections
    return {"scope": scope, "permissions": list(perms)}


def mint(api: Api, *grants: dict[str, Any], token: str = "default", **extra: Any) -> Any:
    return api.post("/v1/tokens", json={"name": "t", "grants": list(grants), **extra}, token=token)


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text
    return r.json()["error"]  # type: ignore[no-any-return]


def token_count(api: Api) -> int:
    with api.core.db.read() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(select(func.count()).select_from(t.tokens)).scalar_one())


def test_a_token_is_shown_once_and_stored_as_its_hash(api: Api, api_ws: str) -> None:
    r = mint(api, grant("read:records", "write:records"), expires_at="2026-04-01T00:00:00Z")
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"
    body = r.json()
    raw = body.pop("token")
    assert raw.startswith("dsk_") and len(raw) == 47  # 256 random bits, base64url
    assert body["grants"] == [grant("read:records", "write:records")]
    assert body["expires_at"] == "2026-04-01T00:00:00.000Z" and body["revoked_at"] is None
    with api.core.db.read() as conn:  # type: ignore[attr-defined]
        row = conn.execute(select(t.tokens).where(t.tokens.c.id == body["id"])).one()
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in api.get("/v1/tokens").text and raw not in api.get(f"/v1/tokens/{body['id']}").text
    me = api.get("/v1/tokens/current", token=raw).json()
    assert me["id"] == body["id"] and me["is_admin"] is False and me["last_used_at"] is not None
    assert api.post(f"{W}/records/tickets", json={"data": T}, token=raw).status_code == 201


def test_grants_are_normalised(api: Api) -> None:
    r = mint(
        api,
        {"scope": {"workspaces": ["a", "a", "*"], "collections": ["*"]}, "permissions": ["sql", "*"]},
        grant("read:records", "read:records", ws="b", collections=["x", "x"]),
    )
    assert r.json()["grants"] == [
        {"scope": {"workspaces": ["*"]}, "permissions": ["*"]},
        grant("read:records", ws="b", collections=["x"]),
    ]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"grants": [grant("read:everything")]}, "/grants/0/permissions/0"),
        ({"grants": [grant("read:records", ws="Not A Slug")]}, "/grants/0/scope/workspaces/0"),
        ({"grants": [{"scope": {"workspaces": []}, "permissions": ["sql"]}]}, "/grants/0/scope/workspaces"),
        ({"grants": [grant()]}, "/grants/0/permissions"),
        ({"grants": [grant("sql")], "expires_at": "2020-01-01T00:00:00Z"}, "/expires_at"),
        ({"grants": [grant("sql")], "name": "tab\there"}, "/name"),
    ],
    ids=["permission", "workspace", "no-workspaces", "no-permissions", "past", "name"],
)
def test_bad_input_is_a_422_and_writes_nothing(api: Api, body: dict[str, Any], pointer: str) -> None:
    before = token_count(api)
    r = api.post("/v1/tokens", json={"name": "t", **body})
    err = error(r, 422, "validation_failed")
    assert pointer in [e["pointer"] for e in err["details"]["errors"]], err
    assert token_count(api) == before


def test_malformed_requests_are_4xx(api: Api) -> None:
    error(api.post("/v1/tokens", json={"name": "t", "grants": []}), 422, "validation_failed")
    error(
        api.post("/v1/tokens", json={"name": "t", "grants": [grant("sql")], "x": 1}), 422, "validation_failed"
    )
    error(mint(api, grant("sql"), expires_at="tomorrow"), 400, "bad_request")
    error(
        api.post("/v1/tokens", content=b"{", headers={"Content-Type": "application/json"}),
        400,
        "invalid_json",
    )


def test_a_token_mints_only_within_the_scope_it_administers(api: Api, api_ws: str) -> None:
    admin_a = mint(api, grant("admin")).json()["token"]
    reader = mint(api, grant("read:records", "read:collections")).json()["token"]
    admin_tickets = mint(api, grant("admin", collections=["tickets"])).json()["token"]
    assert mint(api, grant("read:records", "sql"), token=admin_a).status_code == 201
    assert mint(api, grant("admin"), token=admin_a).status_code == 201  # equal is fine
    assert mint(api, grant("write:records", collections=["tickets"]), token=admin_tickets).status_code == 201
    err = error(mint(api, grant("read:records", ws="other"), token=admin_a), 403, "forbidden")
    assert err["details"] == {"permission": "admin", "workspace": "other", "collection": None}
    error(mint(api, grant("read:records", ws="*"), token=admin_a), 403, "forbidden")
    error(mint(api, grant("read:records"), token=admin_tickets), 403, "forbidden")  # every collection
    error(mint(api, grant("read:records", collections=["customers"]), token=admin_tickets), 403, "forbidden")
    # without admin, not even a narrower token: a leaked reader cannot copy itself out of reach of revocation
    error(mint(api, grant("read:records"), token=reader), 403, "forbidden")


def test_a_minted_token_cannot_outlive_its_parent(api: Api, clock: FixedClock) -> None:
    end = clock.now() + timedelta(days=7)
    parent = mint(api, grant("admin"), expires_at=end.isoformat()).json()["token"]
    error(mint(api, grant("sql"), token=parent), 422, "validation_failed")
    later = (end + timedelta(seconds=1)).isoformat()
    error(mint(api, grant("sql"), token=parent, expires_at=later), 422, "validation_failed")
    assert mint(api, grant("sql"), token=parent, expires_at=end.isoformat()).status_code == 201


def test_expiry(api: Api, api_ws: str, clock: FixedClock) -> None:
    raw = mint(api, grant("read:records"), expires_at=(clock.now() + timedelta(hours=1)).isoformat()).json()[
        "token"
    ]
    assert api.get(f"{W}/records/tickets", token=raw).status_code == 200
    clock.advance(hours=1)
    assert (
        error(api.get(f"{W}/records/tickets", token=raw), 401, "unauthorized")["message"] == "token expired"
    )


def test_revocation_cascades_to_minted_tokens(api: Api, api_ws: str) -> None:
    a = mint(api, grant("admin")).json()
    b = mint(api, grant("admin"), token=a["token"]).json()
    c = mint(api, grant("read:records"), token=b["token"]).json()
    other = mint(api, grant("read:records")).json()
    assert {x["id"] for x in api.get("/v1/tokens", token=a["token"]).json()["data"]} == {
        a["id"],
        b["id"],
        c["id"],
    }
    error(api.get(f"/v1/tokens/{other['id']}", token=a["token"]), 404, "not_found")
    error(api.delete(f"/v1/tokens/{other['id']}", token=a["token"]), 404, "not_found")
    revoked = api.delete(f"/v1/tokens/{b['id']}", token=a["token"]).json()
    assert revoked["revoked_at"] is not None
    for tok in (b, c):
        err = error(api.get(f"{W}/records/tickets", token=tok["token"]), 401, "unauthorized")
        assert err["message"] == "token revoked"
    assert api.get(f"{W}/records/tickets", token=a["token"]).status_code == 200
    assert api.get(f"{W}/records/tickets", token=other["token"]).status_code == 200
    assert api.delete(f"/v1/tokens/{b['id']}").json() == revoked  # again: unchanged


def test_only_admins_manage_tokens_and_server_admins_see_all(api: Api) -> None:
    reader = mint(api, grant("read:records")).json()
    error(api.get("/v1/tokens", token=reader["token"]), 403, "forbidden")
    error(api.delete(f"/v1/tokens/{reader['id']}", token=reader["token"]), 403, "forbidden")
    assert api.get("/v1/tokens/current", token=reader["token"]).json()["name"] == "t"
    everyone = {x["id"] for x in api.get("/v1/tokens").json()["data"]}
    assert reader["id"] in everyone and len(everyone) == 2  # and the admin token itself

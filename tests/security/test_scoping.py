"""Collection scopes reach everywhere data can leave: lists, traversal, single links, batch, the change feed,
SQL; and the audit trail (who did what) is shown to read:audit holders only."""

from __future__ import annotations

from typing import Any

import pytest

from deskbase.core.auth import authorize
from deskbase.core.context import Actor
from deskbase.core.errors import Forbidden, NotFound
from tests.conftest import Api
from tests.security.test_tokens import error, grant, mint

W = "/v1/workspaces/acme"
T = {"subject": "Login fails", "status": "open", "priority": "high"}
C = {"name": "Ann", "email": "ann@example.com"}


def changes_count(api: Api) -> int:
    return len(api.get(f"{W}/changes?limit=1000").json()["data"])


@pytest.fixture
def data(api: Api, api_ws: str) -> dict[str, Any]:
    """A ticket submitted by a customer, a reply linked to the ticket, and a tickets-only token."""
    tk = api.post(f"{W}/records/tickets", json={"data": T}).json()
    cu = api.post(f"{W}/records/customers", json={"data": C}).json()
    rp = api.post(f"{W}/records/responses", json={"data": {"body": "hi", "type": "reply"}}).json()

    def link(rel: str, src: dict[str, Any], tgt: dict[str, Any]) -> dict[str, Any]:
        body = {
            "rel_type": rel,
            "source": {"collection": src["collection"], "id": src["id"]},
            "target": {"collection": tgt["collection"], "id": tgt["id"]},
        }
        r = api.post(f"{W}/relationships", json=body)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    everything = [
        "read:records",
        "write:records",
        "read:relationships",
        "write:relationships",
        "read:collections",
    ]
    scoped = mint(api, grant(*everything, collections=["tickets", "responses"])).json()["token"]
    return {
        "ticket": tk,
        "customer": cu,
        "response": rp,
        "submitted_by": link("submitted_by", tk, cu),
        "has_response": link("has_response", tk, rp),
        "scoped": scoped,
    }


def test_lists_and_reads_show_only_scoped_collections(api: Api, data: dict[str, Any]) -> None:
    tok = data["scoped"]
    assert [c["id"] for c in api.get(f"{W}/collections", token=tok).json()["data"]] == [
        "responses",
        "tickets",
    ]
    assert [r["rel_type"] for r in api.get(f"{W}/relationship-types", token=tok).json()["data"]] == [
        "has_response",
        "related_to",
    ]
    error(api.get(f"{W}/relationship-types/submitted_by", token=tok), 404, "not_found")
    error(api.get(f"{W}/records/customers/{data['customer']['id']}", token=tok), 404, "not_found")
    assert api.get(f"{W}/records/tickets/{data['ticket']['id']}", token=tok).status_code == 200


def test_traversal_leaves_out_links_to_unseen_collections(api: Api, data: dict[str, Any]) -> None:
    tok, tk = data["scoped"], data["ticket"]
    url = f"{W}/records/tickets/{tk['id']}/relationships"
    assert {x["rel_type"] for x in api.get(url, params={"direction": "both"}).json()["data"]} == {
        "submitted_by",
        "has_response",
    }
    seen = api.get(url, params={"direction": "both"}, token=tok).json()["data"]
    assert [x["id"] for x in seen] == [data["has_response"]["id"]]
    assert api.get(url, params={"type": "submitted_by"}, token=tok).json()["data"] == []
    cust = data["customer"]["id"]
    error(api.get(f"{W}/records/customers/{cust}/relationships", token=tok), 404, "not_found")
    missing = error(api.get(f"{W}/relationships/{data['submitted_by']['id']}", token=tok), 404, "not_found")
    assert missing["message"] == f"relationship {data['submitted_by']['id']!r} not found"
    assert api.get(f"{W}/relationships/{data['has_response']['id']}", token=tok).status_code == 200
    error(api.delete(f"{W}/relationships/{data['submitted_by']['id']}", token=tok), 404, "not_found")
    assert api.get(f"{W}/relationships/{data['submitted_by']['id']}").json()["deleted"] is False


def test_batch_operations_outside_the_scope_fail_at_their_index(api: Api, data: dict[str, Any]) -> None:
    tok, before = data["scoped"], changes_count(api)
    ops: list[dict[str, Any]] = [
        {"type": "upsert_record", "collection": "tickets", "data": T},
        {"type": "upsert_record", "collection": "customers", "data": C},
    ]
    err = error(api.post(f"{W}/batch", json={"operations": ops}, token=tok), 404, "not_found")
    assert err["details"]["operation_index"] == 1 and "customers" in err["message"]
    link = {
        "type": "upsert_relationship",
        "rel_type": "submitted_by",
        "source": {"collection": "tickets", "id": data["ticket"]["id"]},
        "target": {"collection": "customers", "id": data["customer"]["id"]},
    }
    err = error(api.post(f"{W}/batch", json={"operations": [ops[0], link]}, token=tok), 404, "not_found")
    assert err["details"]["operation_index"] == 1
    unlink = {"type": "delete_relationship", "id": data["submitted_by"]["id"]}
    err = error(api.post(f"{W}/batch", json={"operations": [ops[0], unlink]}, token=tok), 404, "not_found")
    assert err["details"]["operation_index"] == 1
    reader = mint(api, grant("read:records", "write:relationships")).json()["token"]
    err = error(api.post(f"{W}/batch", json={"operations": [link, ops[0]]}, token=reader), 403, "forbidden")
    assert err["details"] == {"permission": "write:records", "operation_index": 1}
    assert changes_count(api) == before
    assert api.post(f"{W}/batch", json={"operations": [ops[0]]}, token=tok).status_code == 200


def test_the_change_feed_skips_unseen_collections(api: Api, data: dict[str, Any]) -> None:
    reader = mint(api, grant("read:records", collections=["customers"])).json()["token"]
    feed = api.get(f"{W}/changes?limit=1000", token=reader).json()
    assert {(e["entity"], e["collection"]) for e in feed["data"]} == {("record", "customers")}
    everything = api.get(f"{W}/changes?limit=1000").json()
    assert feed["next_after"] == everything["next_after"]  # the cursor moves past what it skips
    page = api.get(f"{W}/changes?limit=1", token=reader).json()
    assert [e["entity_id"] for e in page["data"]] == [data["customer"]["id"]]
    assert page["next_after"] == page["data"][0]["seq"]  # a full page stops at its last entry
    rest = api.get(f"{W}/changes", params={"after": page["next_after"]}, token=reader).json()
    assert rest["data"] == [] and rest["next_after"] == everything["next_after"]
    later = api.post(f"{W}/records/customers", json={"data": {**C, "email": "bo@example.com"}}).json()
    api.post(f"{W}/records/tickets", json={"data": T})
    tail = api.get(f"{W}/changes", params={"after": rest["next_after"], "limit": 1}, token=reader).json()
    assert [e["entity_id"] for e in tail["data"]] == [later["id"]] and tail["next_after"] == later["version"]
    links = mint(api, grant("read:records", "read:relationships", collections=["tickets", "responses"]))
    kinds = {
        (e["entity"], e["collection"])
        for e in api.get(f"{W}/changes?limit=1000", token=links.json()["token"]).json()["data"]
    }
    assert ("relationship", "has_response") in kinds and ("relationship", "submitted_by") not in kinds


def test_the_audit_trail_is_for_read_audit_holders(api: Api, data: dict[str, Any]) -> None:
    writer = mint(api, grant("write:records", "read:records")).json()
    tid = data["ticket"]["id"]
    r = api.patch(f"{W}/records/tickets/{tid}", json={"data": {"status": "waiting"}}, token=writer["token"])
    assert r.status_code == 200, r.text
    auditor = mint(api, grant("read:records", "read:audit", "read:collections")).json()["token"]
    history = api.get(f"{W}/records/tickets/{tid}/history", token=auditor).json()["data"]
    assert [e["actor"] for e in history] == [
        {"id": history[0]["actor"]["id"], "name": "admin"},
        {"id": writer["id"], "name": "t"},
    ]
    plain = api.get(f"{W}/records/tickets/{tid}/history", token=writer["token"]).json()["data"]
    assert [e["actor"] for e in plain] == [None, None] and [e["op"] for e in plain] == ["create", "update"]
    feed = api.get(f"{W}/changes?limit=1000", token=writer["token"]).json()["data"]
    assert feed and all(e["actor"] is None for e in feed)
    assert all(e["actor"] for e in api.get(f"{W}/changes?limit=1000", token=auditor).json()["data"])
    coll = api.get(f"{W}/collections/tickets/history", token=auditor).json()["data"]
    assert coll and all(e["actor"]["name"] == "admin" for e in coll)


def test_import_mode_is_scoped_too(api: Api, data: dict[str, Any]) -> None:
    tok = mint(api, grant("write:records", "read:records"), grant("import", collections=["tickets"])).json()[
        "token"
    ]
    at = {"at": "2026-01-05T10:00:00Z"}
    assert api.post(f"{W}/records/tickets", json={"data": T, **at}, token=tok).status_code == 201
    err = error(api.post(f"{W}/records/customers", json={"data": C, **at}, token=tok), 403, "forbidden")
    assert err["details"] == {"permission": "import"}
    op = {"type": "upsert_record", "collection": "customers", "data": C, **at}
    err = error(api.post(f"{W}/batch", json={"operations": [op]}, token=tok), 403, "forbidden")
    assert err["details"]["operation_index"] == 0


def test_workspace_and_server_administration(api: Api, api_ws: str) -> None:
    admin_a = mint(api, grant("admin")).json()["token"]
    assert api.put(W, json={"name": "Acme Renamed"}, token=admin_a).status_code == 200
    error(api.put("/v1/workspaces/beta", json={"name": "B"}, token=admin_a), 404, "not_found")
    error(api.post("/v1/admin/analytics/rebuild", token=admin_a), 403, "forbidden")
    scoped_admin = mint(api, grant("admin", collections=["tickets"])).json()["token"]
    err = error(api.delete(W, token=scoped_admin), 403, "forbidden")
    assert err["details"] == {"permission": "admin", "scope": "workspace"}
    error(api.post(f"{W}/templates/support", token=scoped_admin), 403, "forbidden")
    assert api.get(W).status_code == 200


def test_authorize_reveals_nothing_outside_the_scope() -> None:
    tok = Actor(
        "tok_x",
        "x",
        ({"scope": {"workspaces": ["a"], "collections": ["t"]}, "permissions": ["read:records"]},),
    )
    with pytest.raises(NotFound, match="workspace 'b' not found"):
        authorize(tok, "read:records", "b")
    with pytest.raises(NotFound, match="collection 'u' not found in workspace 'a'"):
        authorize(tok, "read:records", "a", "u")
    with pytest.raises(Forbidden):
        authorize(tok, "write:records", "a", "t")
    with pytest.raises(Forbidden, match="whole server"):
        authorize(tok, "admin")
    authorize(tok, "read:records", "a", "t")


def test_sql_needs_a_workspace_wide_read_scope(sql_api: Api) -> None:
    api = sql_api
    assert api.put(W, json={"name": "Acme"}).status_code == 201
    assert api.post(f"{W}/templates/support").status_code == 200
    assert api.post(f"{W}/records/tickets", json={"data": T}).status_code == 201
    q = {"query": "SELECT count() FROM records WHERE collection = 'tickets'"}
    scoped = mint(api, grant("sql", "read:records", collections=["tickets"])).json()["token"]
    err = error(api.post(f"{W}/sql", json=q, token=scoped), 403, "forbidden")
    assert err["details"] == {"permission": "sql", "scope": "workspace"}
    error(api.post(f"{W}/queries/agent_workload/run", json={}, token=scoped), 403, "forbidden")
    no_read = mint(api, grant("sql")).json()["token"]
    assert (
        error(api.post(f"{W}/sql", json=q, token=no_read), 403, "forbidden")["details"]["permission"]
        == "read:records"
    )
    analyst = mint(api, grant("sql", "read:records")).json()["token"]
    assert api.post(f"{W}/sql", json=q, token=analyst).json()["data"] == [[1]]
    log = {"query": "SELECT count() FROM operations_log"}
    err = error(api.post(f"{W}/sql", json=log, token=analyst), 403, "forbidden")
    assert err["details"] == {"permission": "read:audit", "table": "operations_log"}
    auditor = mint(api, grant("sql", "read:records", "read:audit")).json()["token"]
    assert api.post(f"{W}/sql", json=log, token=auditor).status_code == 200
    links = {"query": "SELECT count() FROM relationships"}
    assert (
        error(api.post(f"{W}/sql", json=links, token=analyst), 403, "forbidden")["details"]["table"]
        == "relationships"
    )
    save = {"query": "SELECT 1"}
    error(api.put(f"{W}/queries/mine", json=save, token=analyst), 403, "forbidden")  # needs write:collections

"""`/mcp/w/{ws}`: tools generated from the workspace's collections, following schema changes without a restart,
validated by the core as the record routes are, and scoped like them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp import Client

from tests.cli.cli_harness import running_server
from tests.mcp.harness import A, B, Live, call, error, ok, run, seed, tool_names

ASSETS = {
    "name": "Assets",
    "description": "Hardware lent to customers",
    "json_schema": {
        "type": "object",
        "required": ["tag", "kind"],
        "properties": {
            "tag": {"type": "string"},
            "kind": {"type": "string", "enum": ["laptop", "phone"]},
            "owner": {"type": "string"},
        },
    },
}
PATH = f"/mcp/w/{A}"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data: Path = tmp_path_factory.mktemp("mcp-ws")
    with running_server(data, sla_scheduler=False, webhooks=False) as srv:
        seed(srv.core, A, ["Printer on fire"])
        seed(srv.core, B, ["Globex outage"])
        yield Live(srv.url, srv.core, srv.token)


def test_tools_appear_for_a_new_collection_and_follow_its_schema(live: Live) -> None:
    before = set(tool_names(live, live.admin, PATH))
    assert {"create_tickets", "query_tickets", "get_tickets", "update_tickets", "query_customers"} <= before
    assert not any(name.endswith("_assets") for name in before)
    assert live.rest("PUT", f"/workspaces/{A}/collections/assets", json=ASSETS).status_code == 201

    async def tools(c: Client) -> dict[str, object]:
        return {t.name: t for t in (await c.list_tools()).tools}

    listed = run(live, live.admin, tools, PATH)
    assert {"create_assets", "query_assets", "get_assets", "update_assets"} <= set(listed)
    create = listed["create_assets"]
    assert create.input_schema["required"] == ["tag", "kind"]  # type: ignore[attr-defined]
    assert create.input_schema["properties"]["kind"]["enum"] == ["laptop", "phone"]  # type: ignore[attr-defined]
    update = listed["update_assets"].input_schema  # type: ignore[attr-defined]
    assert update["required"] == ["id", "data"] and "required" not in update["properties"]["data"]
    assert "Hardware lent to customers" in listed["create_assets"].description  # type: ignore[attr-defined]

    made = ok(call(live, live.admin, "create_assets", {"tag": "L-1", "kind": "laptop"}, PATH))["record"]
    got = ok(call(live, live.admin, "get_assets", {"id": made["id"]}, PATH))["record"]
    assert got["data"] == {"tag": "L-1", "kind": "laptop"}
    patched = ok(
        call(
            live,
            live.admin,
            "update_assets",
            {"id": made["id"], "data": {"owner": "jo"}, "if_match": got["version"]},
            PATH,
        )
    )["record"]
    assert patched["data"]["owner"] == "jo"
    found = ok(
        call(
            live,
            live.admin,
            "query_assets",
            {"filter": {"field": "data.owner", "op": "eq", "value": "jo"}},
            PATH,
        )
    )
    assert [r["id"] for r in found["records"]] == [made["id"]]

    bad = {"tag": "P-1", "kind": "tablet"}
    err = error(call(live, live.admin, "create_assets", bad, PATH))
    rest = live.rest("POST", f"/workspaces/{A}/records/assets", json={"data": bad}).json()["error"]
    assert (err["code"], err["message"], err["details"]) == (rest["code"], rest["message"], rest["details"])
    stale = error(
        call(
            live, live.admin, "update_assets", {"id": made["id"], "data": {"owner": "x"}, "if_match": 1}, PATH
        )
    )
    assert stale["code"] == "version_mismatch"

    widened = {
        **ASSETS,
        "json_schema": {
            **ASSETS["json_schema"],
            "properties": {**ASSETS["json_schema"]["properties"], "serial": {"type": "string"}},
        },
    }  # type: ignore[dict-item]
    assert live.rest("PUT", f"/workspaces/{A}/collections/assets", json=widened).status_code == 200
    assert "serial" in run(live, live.admin, tools, PATH)["create_assets"].input_schema["properties"]  # type: ignore[attr-defined]
    assert live.rest("DELETE", f"/workspaces/{A}/collections/assets").status_code == 204
    assert not any(n.endswith("_assets") for n in tool_names(live, live.admin, PATH))
    assert error(call(live, live.admin, "get_assets", {"id": made["id"]}, PATH))["code"] == "not_found"


def test_writes_record_source_mcp(live: Live) -> None:
    made = ok(call(live, live.admin, "create_customers", {"name": "Kim", "email": "kim@acme.example"}, PATH))[
        "record"
    ]
    history = live.rest("GET", f"/workspaces/{A}/records/customers/{made['id']}/history").json()["data"]
    assert [h["source"] for h in history] == ["mcp"]


def test_the_endpoint_is_scoped_like_the_workspace(live: Live) -> None:
    reader = live.token("a-reader", [{"scope": {"workspaces": [A]}, "permissions": ["read:records"]}])
    assert set(tool_names(live, reader, PATH)) == {
        f"{verb}_{c}" for verb in ("query", "get") for c in ("tickets", "customers", "responses", "macros")
    }
    assert error(call(live, reader, "create_tickets", {"subject": "x"}, PATH))["code"] == "forbidden"
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Authorization": f"Bearer {reader}", "Accept": "application/json, text/event-stream"}
    for ws, status, code in (
        (B, 404, "not_found"),
        ("nowhere", 404, "not_found"),
        ("Bad!", 400, "invalid_id"),
    ):
        resp = httpx.post(f"{live.url}/mcp/w/{ws}", json=body, headers=headers)
        assert resp.status_code == status and resp.json()["error"]["code"] == code
    rest = live.rest("GET", f"/workspaces/{B}", token=reader).json()["error"]
    assert httpx.post(f"{live.url}/mcp/w/{B}", json=body, headers=headers).json()["error"] == rest

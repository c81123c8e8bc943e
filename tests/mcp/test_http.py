"""`/mcp` over real HTTP with the SDK's client: the tools listed and each one called, errors with the REST
API's codes and messages, 401 without a token, writes attributed to the token with `source: mcp`, resources
and prompts, and clients of both protocol eras."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.cli.cli_harness import running_server
from tests.mcp.harness import A, B, Live, call, error, ok, run, seed, tool_names

TOOLS = {
    "search_tickets",
    "get_ticket",
    "create_ticket",
    "reply_to_ticket",
    "update_ticket",
    "link_tickets",
    "unlink_tickets",
    "list_collections",
    "describe_collection",
    "query_records",
    "get_record",
    "upsert_record",
    "run_sql",
    "list_queries",
    "run_query",
    "sla_at_risk",
    "sla_simulate",
}
READ_ONLY = {
    "search_tickets",
    "get_ticket",
    "list_collections",
    "describe_collection",
    "query_records",
    "get_record",
    "run_sql",
    "list_queries",
    "run_query",
    "sla_at_risk",
    "sla_simulate",
}
OPEN_COUNT = (
    "SELECT count() AS n FROM records FINAL WHERE workspace_id = {workspace_id:String} "
    "AND collection = 'tickets' AND deleted = false AND data.status.:String = {status:String}"
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, chdb_engine: Any) -> Iterator[Live]:
    data: Path = tmp_path_factory.mktemp("mcp-http")
    with running_server(data, engine=chdb_engine, sla_scheduler=False, webhooks=False) as srv:
        seed(srv.core, A, ["Printer on fire", "Cannot log in", "Invoice is wrong"])
        seed(srv.core, B, ["Globex outage"])
        yield Live(srv.url, srv.core, srv.token)


def same_error(mcp_error: dict[str, Any], rest: httpx.Response, status: int) -> None:
    assert rest.status_code == status
    body = rest.json()["error"]
    assert (mcp_error["code"], mcp_error["message"]) == (body["code"], body["message"])


def test_an_admin_sees_every_tool_described_with_its_schema(live: Live) -> None:
    async def listing(c: Client) -> Any:
        return (await c.list_tools()).tools

    tools = run(live, live.admin, listing)
    assert {t.name for t in tools} == TOOLS
    for t in tools:
        assert t.description and len(t.description) > 60
        assert t.input_schema["type"] == "object" and t.input_schema.get("additionalProperties") is False
        assert "workspace" in t.input_schema["required"]  # the admin token reaches two workspaces
        assert t.annotations is not None and t.annotations.read_only_hint is (t.name in READ_ONLY)
    by_name = {t.name: t for t in tools}
    reply = by_name["reply_to_ticket"].input_schema["properties"]
    assert reply["type"]["enum"] == ["reply", "internal_note"] and reply["body"]["maxLength"] == 200_000
    assert by_name["unlink_tickets"].annotations.destructive_hint is True  # type: ignore[union-attr]


def test_no_token_or_a_bad_one_is_a_401_with_the_rest_error_body(live: Live) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for path in ("/mcp", "/mcp/w/acme"):
        for headers, message in (
            ({}, "missing bearer token: send 'Authorization: Bearer dsk_…'"),
            ({"Authorization": "Bearer dsk_" + "x" * 43}, "invalid token"),
            (
                {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
                "missing bearer token: send 'Authorization: Bearer dsk_…'",
            ),
        ):
            resp = httpx.post(live.url + path, json=body, headers=headers)
            assert resp.status_code == 401
            assert resp.headers["www-authenticate"].startswith("Bearer")
            assert resp.json() == {"error": {"code": "unauthorized", "message": message, "details": {}}}


def test_search_and_read_tickets(live: Live) -> None:
    found = ok(call(live, live.admin, "search_tickets", {"workspace": A, "text": "printer"}))
    assert [t["subject"] for t in found["tickets"]] == ["Printer on fire"] and found["next_cursor"] is None
    # every word in some field of the ticket: here the subject and the customer's email, as the console finds it
    across = ok(call(live, live.admin, "search_tickets", {"workspace": A, "text": "fire c0@acme"}))
    assert [t["subject"] for t in across["tickets"]] == ["Printer on fire"] and "partial" not in across
    assert (
        ok(call(live, live.admin, "search_tickets", {"workspace": A, "text": "fire c1@acme"}))["tickets"]
        == []
    )
    row = found["tickets"][0]
    assert row["customer"]["email"] == "c0@acme.example" and row["status"] == "open"
    assert row["sla"]["metric"] == "first_response" and row["sla"]["state"] == "active"
    page = ok(call(live, live.admin, "search_tickets", {"workspace": A, "limit": 2}))
    more = ok(
        call(live, live.admin, "search_tickets", {"workspace": A, "limit": 2, "cursor": page["next_cursor"]})
    )
    assert len(page["tickets"]) == 2 and len(more["tickets"]) >= 1
    assert not {t["id"] for t in page["tickets"]} & {t["id"] for t in more["tickets"]}
    high = ok(
        call(
            live,
            live.admin,
            "search_tickets",
            {"workspace": A, "filter": {"field": "data.priority", "op": "eq", "value": "high"}, "limit": 100},
        )
    )
    assert high["tickets"] and all(t["priority"] == "high" for t in high["tickets"])

    number = row["number"]
    detail = ok(call(live, live.admin, "get_ticket", {"workspace": A, "ticket": f"#{number}"}))
    assert detail["ticket"]["id"] == row["id"] and detail["ticket"]["data"]["subject"] == "Printer on fire"
    assert detail["customer"]["name"] == "Customer 0" and detail["conversation"] == []
    clocks = {c["metric"]: c for c in detail["sla"]}
    assert clocks["first_response"]["remaining_business_seconds"] > 0 and "metrics" in detail
    assert (
        ok(call(live, live.admin, "get_ticket", {"workspace": A, "ticket": row["id"]}))["ticket"]["number"]
        == number
    )


def test_open_reply_update_and_link_tickets(live: Live) -> None:
    new = {"subject": "Laptop will not boot", "status": "open", "priority": "urgent"}
    opened = ok(
        call(
            live,
            live.admin,
            "create_ticket",
            {
                "workspace": A,
                "data": new,
                "customer": {"email": "Dana@Example.com", "name": "Dana", "plan": "free"},
            },
        )
    )
    assert opened["customer_created"] is True and opened["customer"]["email"] == "dana@example.com"
    again = ok(
        call(
            live,
            live.admin,
            "create_ticket",
            {
                "workspace": A,
                "data": {**new, "subject": "Still not booting"},
                "customer": {"email": "dana@example.com"},
            },
        )
    )
    assert again["customer_created"] is False and again["customer"]["id"] == opened["customer"]["id"]
    number = opened["ticket"]["number"]

    ok(
        call(
            live,
            live.admin,
            "reply_to_ticket",
            {"workspace": A, "ticket": number, "body": "Hold the power key."},
        )
    )
    note = {"workspace": A, "ticket": number, "body": "Probably the battery", "type": "internal_note"}
    ok(call(live, live.admin, "reply_to_ticket", note))
    read = ok(call(live, live.admin, "get_ticket", {"workspace": A, "ticket": number}))
    assert [(m["kind"], m["body"]) for m in read["conversation"]] == [
        ("agent", "Hold the power key."),
        ("note", "Probably the battery"),
    ]
    assert read["metrics"]["agent_replies"] == 1 and read["metrics"]["internal_notes"] == 1

    version = read["ticket"]["version"]
    patch = {"status": "in_progress", "assignee": "sam", "tags": ["hardware"]}
    updated = ok(
        call(
            live,
            live.admin,
            "update_ticket",
            {"workspace": A, "ticket": number, "data": patch, "if_match": version},
        )
    )
    assert updated["ticket"]["data"]["assignee"] == "sam" and updated["ticket"]["version"] > version

    pair = {"workspace": A, "ticket": number, "other": again["ticket"]["number"]}
    link = ok(call(live, live.admin, "link_tickets", pair))
    assert link["created"] is True
    assert ok(call(live, live.admin, "link_tickets", pair))["created"] is False
    related = ok(call(live, live.admin, "get_ticket", {"workspace": A, "ticket": again["ticket"]["number"]}))[
        "related"
    ]
    assert [r["number"] for r in related] == [number]
    swapped = {**pair, "ticket": pair["other"], "other": pair["ticket"]}
    gone = ok(call(live, live.admin, "unlink_tickets", swapped))
    assert (
        gone["relationship"]["id"] == link["relationship"]["id"] and gone["relationship"]["deleted"] is True
    )
    assert error(call(live, live.admin, "unlink_tickets", pair))["code"] == "not_found"


def test_collections_and_records(live: Live) -> None:
    listed = ok(call(live, live.admin, "list_collections", {"workspace": A}))
    colls = {c["id"]: c for c in listed["collections"]}
    assert {"tickets", "customers", "responses"} <= set(colls) and "subject" in colls["tickets"]["fields"]
    schema = ok(call(live, live.admin, "describe_collection", {"workspace": A, "collection": "tickets"}))
    assert schema["json_schema"]["properties"]["status"]["enum"][0] == "open"
    made = ok(
        call(
            live,
            live.admin,
            "upsert_record",
            {"workspace": A, "collection": "customers", "data": {"name": "Eve", "email": "eve@acme.example"}},
        )
    )
    assert made["created"] is True
    got = ok(
        call(
            live,
            live.admin,
            "get_record",
            {"workspace": A, "collection": "customers", "id": made["record"]["id"]},
        )
    )
    assert got["record"]["data"]["name"] == "Eve"
    query = {
        "workspace": A,
        "collection": "customers",
        "filter": {"field": "data.email", "op": "eq", "value": "eve@acme.example"},
    }
    assert [r["id"] for r in ok(call(live, live.admin, "query_records", query))["records"]] == [
        made["record"]["id"]
    ]


def test_sql_stored_queries_and_sla(live: Live) -> None:
    out = ok(
        call(live, live.admin, "run_sql", {"workspace": A, "query": OPEN_COUNT, "params": {"status": "open"}})
    )
    assert [m["name"] for m in out["meta"]] == ["n"] and out["data"][0][0] >= 3 and out["truncated"] is False
    capped = ok(
        call(
            live,
            live.admin,
            "run_sql",
            {"workspace": A, "query": "SELECT number FROM numbers(10)", "max_rows": 3},
        )
    )
    assert capped["rows"] == 3 and capped["truncated"] is True
    put = live.rest(
        "PUT", f"/workspaces/{A}/queries/open_count", json={"query": OPEN_COUNT, "params": {"status": "open"}}
    )
    assert put.status_code in (200, 201)
    names = [q["name"] for q in ok(call(live, live.admin, "list_queries", {"workspace": A}))["queries"]]
    assert "open_count" in names
    ran = ok(call(live, live.admin, "run_query", {"workspace": A, "name": "open_count"}))
    assert ran["data"] == out["data"]
    risky = ok(call(live, live.admin, "sla_at_risk", {"workspace": A, "within": "30d", "limit": 100}))
    assert risky["clocks"] and all(c["subject"] and c["number"] for c in risky["clocks"])
    strict = {
        "name": "strict",
        "calendar_id": "business-hours",
        "targets": {"first_response": {"high": {"seconds": 1}}},
    }
    window = {"start": "2020-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}
    simulate = {"workspace": A, "policy": strict, **window}
    sim = ok(call(live, live.admin, "sla_simulate", simulate))
    assert sim["tickets"] >= 3 and "candidate" in sim and "active" in sim


def test_errors_carry_the_rest_apis_codes_and_messages(live: Live) -> None:
    missing = error(call(live, live.admin, "get_ticket", {"workspace": A, "ticket": 9999}))
    same_error(missing, live.rest("GET", f"/workspaces/{A}/tickets/by-number/9999"), 404)

    bad = {"subject": "x", "status": "nope", "priority": "low"}
    invalid = error(
        call(
            live,
            live.admin,
            "create_ticket",
            {"workspace": A, "data": bad, "customer": {"email": "x@y.example"}},
        )
    )
    same_error(invalid, live.rest("POST", f"/workspaces/{A}/records/tickets", json={"data": bad}), 422)
    assert invalid["details"]["errors"][0]["pointer"] == "/data/status"

    ticket = ok(call(live, live.admin, "search_tickets", {"workspace": A, "text": "log in"}))["tickets"][0]
    stale = error(
        call(
            live,
            live.admin,
            "update_ticket",
            {"workspace": A, "ticket": ticket["id"], "data": {"priority": "low"}, "if_match": 1},
        )
    )
    rest = live.rest(
        "PATCH",
        f"/workspaces/{A}/records/tickets/{ticket['id']}",
        json={"data": {"priority": "low"}},
        headers={"If-Match": '"1"'},
    )
    same_error(stale, rest, 412)
    assert stale["code"] == "version_mismatch" and stale["details"]["expected_version"] == 1

    wrong = {"field": "data.status", "op": "between", "value": 1}
    bad_filter = error(call(live, live.admin, "search_tickets", {"workspace": A, "filter": wrong}))
    same_error(
        bad_filter,
        live.rest(
            "GET",
            f"/workspaces/{A}/records/tickets",
            params={"filter": '{"field": "data.status", "op": "between", "value": 1}'},
        ),
        400,
    )

    typo = error(call(live, live.admin, "get_ticket", {"workspace": A, "tickt": 1}))
    assert typo["code"] == "validation_failed"
    assert {e["pointer"] for e in typo["details"]["errors"]} == {"/ticket", "/tickt"}
    assert error(call(live, live.admin, "get_ticket", {"ticket": 1}))["message"].startswith(
        "workspace is required"
    )
    assert error(call(live, live.admin, "no_such_tool", {}))["code"] == "not_found"
    nul = error(call(live, live.admin, "search_tickets", {"workspace": A, "text": "a\x00b"}))
    assert nul["code"] == "validation_failed" and nul["details"]["errors"][0]["pointer"] == "/text"
    rejected = error(
        call(live, live.admin, "run_sql", {"workspace": A, "query": "SELECT * FROM system.tables"})
    )
    assert rejected["code"] == "query_rejected"


def test_writes_are_attributed_to_the_token_with_source_mcp(live: Live) -> None:
    agent = live.token("agent-bot", [{"scope": {"workspaces": [A]}, "permissions": ["*"]}])
    ticket = ok(call(live, agent, "search_tickets", {"text": "invoice"}))["tickets"][0]  # the one workspace
    ok(call(live, agent, "update_ticket", {"ticket": ticket["id"], "data": {"category": "billing"}}))
    rest = live.rest(
        "PATCH",
        f"/workspaces/{A}/records/tickets/{ticket['id']}",
        token=agent,
        json={"data": {"priority": "low"}},
    )
    assert rest.status_code == 200
    history = live.rest("GET", f"/workspaces/{A}/records/tickets/{ticket['id']}/history").json()["data"]
    assert [(h["actor"]["name"] if h["actor"] else None, h["source"]) for h in history[-2:]] == [
        ("agent-bot", "mcp"),
        ("agent-bot", "api"),
    ]


def test_resources_and_prompts(live: Live) -> None:
    async def browse(c: Client) -> Any:
        templates = (await c.list_resource_templates()).resource_templates
        listed = (await c.list_resources()).resources
        ticket = (await c.read_resource(f"deskbase://{A}/tickets/1")).contents[0]
        schema = (await c.read_resource(f"deskbase://{A}/collections/tickets/schema")).contents[0]
        prompts = (await c.list_prompts()).prompts
        triage = (await c.get_prompt("triage_queue", {"workspace": A})).messages[0].content
        draft = (await c.get_prompt("draft_reply", {"workspace": A, "ticket": "1"})).messages[0].content
        with pytest.raises(MCPError) as missing:
            await c.read_resource(f"deskbase://{A}/tickets/9999")
        return templates, listed, ticket, schema, prompts, triage, draft, missing.value

    templates, listed, ticket, schema, prompts, triage, draft, missing = run(live, live.admin, browse)
    assert {t.uri_template for t in templates} == {
        "deskbase://{workspace}/tickets/{number}",
        "deskbase://{workspace}/collections/{collection}/schema",
    }
    uris = {str(r.uri) for r in listed}
    assert (
        f"deskbase://{A}/collections/tickets/schema" in uris
        and f"deskbase://{B}/collections/tickets/schema" in uris
    )
    assert ticket.mime_type == "text/markdown" and ticket.text.startswith("# #1 Printer on fire")
    assert "customer: Customer 0 <c0@acme.example>" in ticket.text and "## SLA clocks" in ticket.text
    assert '"subject"' in schema.text
    assert {p.name for p in prompts} == {"triage_queue", "draft_reply"}
    assert "#2 Cannot log in" in triage.text and "internal_note" in triage.text
    assert "# #1 Printer on fire" in draft.text and "approve" in draft.text
    assert missing.error.message == "not_found: no tickets record numbered 9999"
    assert missing.error.data == {
        "error": {
            "code": "not_found",
            "message": "no tickets record numbered 9999",
            "details": {"collection": "tickets", "number": 9999},
        }
    }


def test_a_handshake_era_client_gets_the_same_service(live: Live) -> None:
    async def legacy(c: Client) -> Any:
        return (
            c.protocol_version,
            [t.name for t in (await c.list_tools()).tools],
            await c.call_tool("search_tickets", {"workspace": A, "text": "printer"}),
        )

    version, names, result = run(live, live.admin, legacy, mode="legacy")
    assert version < "2026" and set(names) == TOOLS
    assert [t["subject"] for t in ok(result)["tickets"]] == ["Printer on fire"]
    assert set(tool_names(live, live.admin)) == TOOLS

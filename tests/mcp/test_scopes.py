"""Every MCP path checks what the REST route checks: a token scoped to workspace A gets nothing of workspace B
through any tool, SQL or resource; a read-only token is not offered write tools and cannot call them; a
collection-limited token sees only its collections; tool calls spend the REST API's rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.cli.cli_harness import running_server
from tests.mcp.harness import A, B, Live, call, error, ok, run, seed, tool_names

READ = ["read:records", "read:collections", "read:relationships"]
WRITE = ["write:records", "write:relationships"]
WRITE_TOOLS = {
    "create_ticket",
    "reply_to_ticket",
    "update_ticket",
    "link_tickets",
    "unlink_tickets",
    "upsert_record",
}
SQL_TOOLS = {"run_sql", "list_queries", "run_query"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, chdb_engine: Any) -> Iterator[Live]:
    data: Path = tmp_path_factory.mktemp("mcp-scopes")
    with running_server(data, engine=chdb_engine, sla_scheduler=False, webhooks=False) as srv:
        seed(srv.core, A, ["Printer on fire", "Cannot log in"])
        seed(srv.core, B, ["Globex outage", "Globex billing"])
        live = Live(srv.url, srv.core, srv.token)
        live.token("a-agent", [{"scope": {"workspaces": [A]}, "permissions": [*READ, *WRITE, "sql"]}])
        live.token("a-reader", [{"scope": {"workspaces": [A]}, "permissions": READ}])
        live.token(
            "a-tickets",
            [{"scope": {"workspaces": [A], "collections": ["tickets"]}, "permissions": ["read:records"]}],
        )
        yield live


def b_calls(live: Live) -> dict[str, dict[str, Any]]:
    """A valid call of every tool aimed at workspace B (ids and numbers that exist there)."""
    b_ticket = live.core.records.by_number(B, "tickets", 1)
    ticket = {"workspace": B, "ticket": 1}
    return {
        "search_tickets": {"workspace": B},
        "get_ticket": ticket,
        "create_ticket": {
            "workspace": B,
            "data": {"subject": "x", "status": "open", "priority": "low"},
            "customer": {"email": "c0@globex.example"},
        },
        "reply_to_ticket": {**ticket, "body": "hi"},
        "update_ticket": {**ticket, "data": {"status": "closed"}},
        "link_tickets": {**ticket, "other": 2},
        "unlink_tickets": {**ticket, "other": 2},
        "list_collections": {"workspace": B},
        "describe_collection": {"workspace": B, "collection": "tickets"},
        "query_records": {"workspace": B, "collection": "tickets"},
        "get_record": {"workspace": B, "collection": "tickets", "id": b_ticket["id"]},
        "upsert_record": {"workspace": B, "collection": "tickets", "id": b_ticket["id"], "data": {}},
        "run_sql": {"workspace": B, "query": "SELECT count() FROM records"},
        "list_queries": {"workspace": B},
        "run_query": {"workspace": B, "name": "anything"},
        "sla_at_risk": {"workspace": B},
        "sla_simulate": {
            "workspace": B,
            "policy": {"name": "p", "targets": {}},
            "start": "2020-01-01T00:00:00Z",
            "end": "2030-01-01T00:00:00Z",
        },
    }


def test_a_token_of_workspace_a_gets_nothing_of_b_through_any_tool(live: Live) -> None:
    agent = live.tokens["a-agent"]
    rest = live.rest("GET", f"/workspaces/{B}/records/tickets", token=agent).json()["error"]
    assert rest["code"] == "not_found"
    calls = b_calls(live)
    assert set(calls) == set(tool_names(live, live.admin))  # every tool is tried
    before = live.core.last_seq(B)
    for name, args in calls.items():
        err = error(call(live, agent, name, args))
        assert (err["code"], err["message"]) == (rest["code"], rest["message"]), name
    assert live.core.last_seq(B) == before  # and nothing was written there
    sneaky = "SELECT count() FROM ws_globex.records"
    assert error(call(live, agent, "run_sql", {"workspace": A, "query": sneaky}))["code"] == "query_rejected"
    own = ok(call(live, agent, "run_sql", {"query": "SELECT DISTINCT workspace_id FROM records"}))
    assert own["data"] == [[A]]


def test_resources_and_prompts_of_another_workspace_are_absent(live: Live) -> None:
    async def browse(c: Client) -> Any:
        listed = [str(r.uri) for r in (await c.list_resources()).resources]
        failures = []
        for uri in (f"deskbase://{B}/tickets/1", f"deskbase://{B}/collections/tickets/schema"):
            with pytest.raises(MCPError) as caught:
                await c.read_resource(uri)
            failures.append(caught.value.error.message)
        with pytest.raises(MCPError) as prompt:
            await c.get_prompt("draft_reply", {"workspace": B, "ticket": "1"})
        failures.append(prompt.value.error.message)
        return listed, failures

    listed, failures = run(live, live.tokens["a-agent"], browse)
    assert listed and all(uri.startswith(f"deskbase://{A}/") for uri in listed)
    assert failures == [f"not_found: workspace {B!r} not found"] * 3


def test_a_read_only_token_is_not_offered_write_tools_and_cannot_call_them(live: Live) -> None:
    reader = live.tokens["a-reader"]
    names = set(tool_names(live, reader))
    assert not names & WRITE_TOOLS and not names & SQL_TOOLS
    assert {"search_tickets", "get_ticket", "list_collections", "sla_at_risk"} <= names
    attempt = {
        "data": {"subject": "x", "status": "open", "priority": "low"},
        "customer": {"email": "x@acme.example"},
    }
    err = error(call(live, reader, "create_ticket", attempt))
    rest = live.rest("POST", f"/workspaces/{A}/records/tickets", token=reader, json={"data": attempt["data"]})
    assert rest.status_code == 403
    assert (err["code"], err["message"]) == (rest.json()["error"]["code"], rest.json()["error"]["message"])
    assert (
        error(call(live, reader, "update_ticket", {"ticket": 1, "data": {"status": "closed"}}))["code"]
        == "forbidden"
    )
    assert error(call(live, reader, "run_sql", {"query": "SELECT 1"}))["code"] == "forbidden"

    # The workspace is optional: this token reaches one, so its schemas do not require it.
    async def schema(c: Client) -> Any:
        return next(t for t in (await c.list_tools()).tools if t.name == "get_ticket").input_schema

    assert "workspace" not in run(live, reader, schema)["required"]


def test_a_collection_limited_token_reads_only_its_collection(live: Live) -> None:
    limited = live.tokens["a-tickets"]
    assert set(tool_names(live, limited)) == {
        "search_tickets",
        "get_ticket",
        "query_records",
        "get_record",
        "sla_at_risk",
        "sla_simulate",
    }
    rows = ok(call(live, limited, "search_tickets", {}))["tickets"]
    assert rows and all(r["customer"] is None for r in rows)  # customers are outside its scope
    detail = ok(call(live, limited, "get_ticket", {"ticket": 1}))
    assert detail["customer"] is None and detail["conversation"] == [] and detail["related"] == []
    err = error(call(live, limited, "query_records", {"collection": "customers"}))
    rest = live.rest("GET", f"/workspaces/{A}/records/customers", token=limited).json()["error"]
    assert (err["code"], err["message"]) == (rest["code"], rest["message"]) == ("not_found", rest["message"])


def test_tool_calls_spend_the_rest_apis_rate_limit(tmp_path: Path) -> None:
    with running_server(
        tmp_path / "data", sla_scheduler=False, webhooks=False, rate_limit_per_second=0.01, rate_limit_burst=2
    ) as srv:
        seed(srv.core, A, ["one"])
        live = Live(srv.url, srv.core, srv.token)
        agent = live.token("busy", [{"scope": {"workspaces": [A]}, "permissions": READ}])
        assert ok(call(live, agent, "search_tickets", {}))["tickets"]
        assert live.rest("GET", f"/workspaces/{A}/records/tickets", token=agent).status_code == 200
        err = error(call(live, agent, "search_tickets", {}))
        assert err["code"] == "rate_limited" and err["details"]["burst"] == 2
        assert ok(call(live, live.admin, "search_tickets", {"workspace": A}))  # server admins are exempt


def test_a_light_agents_token_writes_internal_notes_only(live: Live) -> None:
    """The rule is in the write path (support/reply_rules.py), so MCP obeys it as REST does."""
    grants = [
        {"scope": {"workspaces": [A]}, "permissions": READ},
        {"scope": {"workspaces": [A], "collections": ["responses"]}, "permissions": ["write:records"]},
        {
            "scope": {"workspaces": [A], "collections": ["tickets", "responses"]},
            "permissions": ["write:relationships"],
        },
    ]
    token = live.token("a-light", grants)
    refused = error(call(live, token, "reply_to_ticket", {"workspace": A, "ticket": 1, "body": "hi"}))
    assert refused["code"] == "forbidden" and refused["details"]["reason"] == "internal_notes_only"
    note = {"workspace": A, "ticket": 1, "body": "fyi", "type": "internal_note"}
    assert not call(live, token, "reply_to_ticket", note).is_error

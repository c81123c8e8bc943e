"""`deskbase mcp` over stdio, driven by the SDK's stdio client: forwarding to a running server with a token,
and working on a data directory no server holds (refused while one does)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from deskbase.core.loops import live_holders
from tests.cli.cli_harness import Cli, running_server
from tests.mcp.harness import A, Live, ok, seed, tool_names


def stdio(args: list[str], env: dict[str, str], fn: Any) -> Any:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "deskbase.cli.main", "mcp", *args], env={**os.environ, **env}
    )

    async def main() -> Any:
        async with Client(params) as client:
            return await fn(client)

    return anyio.run(main)


async def tools_and_search(c: Client) -> tuple[list[str], dict[str, Any]]:
    names = [t.name for t in (await c.list_tools()).tools]
    return names, ok(await c.call_tool("search_tickets", {"text": "printer"}))


def test_stdio_forwards_to_the_server_with_the_token(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", sla_scheduler=False, webhooks=False) as srv:
        seed(srv.core, A, ["Printer on fire"])
        live = Live(srv.url, srv.core, srv.token)
        reader = live.token("reader", [{"scope": {"workspaces": [A]}, "permissions": ["read:records"]}])
        env = {"DESKBASE_URL": srv.url, "DESKBASE_TOKEN": reader, "DESKBASE_CONFIG_DIR": str(tmp_path)}
        names, found = stdio([], env, tools_and_search)
        assert sorted(names) == sorted(tool_names(live, reader))  # the server's answer for this token
        assert [t["subject"] for t in found["tickets"]] == ["Printer on fire"]


def test_stdio_on_a_data_directory_no_server_holds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_server(data, sla_scheduler=False, webhooks=False) as srv:
        seed(srv.core, A, ["Printer on fire"])
    env = {"DESKBASE_CONFIG_DIR": str(tmp_path), "DESKBASE_URL": "http://127.0.0.1:1"}

    async def work(c: Client) -> Any:
        listed, found = await tools_and_search(c)
        made = ok(
            await c.call_tool(
                "create_ticket",
                {
                    "data": {"subject": "Local", "status": "open", "priority": "low"},
                    "customer": {"email": "l@x.example"},
                },
            )
        )
        return listed, found, made

    names, found, made = stdio(["--data-dir", str(data)], env, work)
    assert "create_ticket" in names and "run_sql" in names
    assert [t["subject"] for t in found["tickets"]] == ["Printer on fire"]
    with running_server(data, sla_scheduler=False, webhooks=False) as srv:
        history = srv.core.records.history(A, "tickets", made["ticket"]["id"])
    assert [(h["actor"]["name"], h["source"]) for h in history] == [("admin", "mcp")]


def test_stdio_refuses_a_directory_a_server_holds_and_needs_a_token_to_forward(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli = Cli(env={"DESKBASE_CONFIG_DIR": str(tmp_path), "DESKBASE_URL": None, "DESKBASE_TOKEN": None})
    assert cli("mcp", "--data-dir", str(tmp_path / "empty"), expect=1).stderr.startswith(
        "error: unavailable: no deskbase store"
    )
    with running_server(data, sla_scheduler=False) as srv:  # the webhook dispatcher holds its lease
        deadline = time.monotonic() + 10
        while not live_holders(srv.core.db, srv.core.clock):
            assert time.monotonic() < deadline, "the server's loops took no lease"
            time.sleep(0.05)
        out = cli("mcp", "--data-dir", str(data), expect=1)
        assert out.stderr.startswith(f"error: unavailable: a deskbase server is running on {data}")
        assert out.stderr.count("\n") == 1 and out.stdout == ""
        forward = cli("mcp", env={"DESKBASE_URL": srv.url, "DESKBASE_TOKEN": "dsk_" + "x" * 43}, expect=1)
        assert forward.stderr == "error: unauthorized: invalid token\n"
    assert cli("mcp", expect=1).stderr == (
        "error: unauthorized: no token configured: pass --token, set DESKBASE_TOKEN or run `deskbase login`\n"
    )
    gone = cli("mcp", env={"DESKBASE_URL": "http://127.0.0.1:1", "DESKBASE_TOKEN": "dsk_x"}, expect=1)
    assert gone.stderr.startswith("error: unreachable: cannot reach deskbase at http://127.0.0.1:1")

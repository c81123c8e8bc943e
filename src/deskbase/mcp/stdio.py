"""`deskbase mcp`: MCP over stdio, for clients that launch a command (Claude Desktop, editors).

Two ways, by what the user has:
- **proxy** (a server URL and token, the CLI's usual profile): every request is forwarded to the server's
  `/mcp` with the token. The server does every check; this process holds nothing but the token.
- **local** (`--data-dir`, no server running on it): the data directory is opened in this process and the
  tools run on it as the directory's admin token (whoever can read the directory can read that token and the
  database already, so this grants nothing new), or as the token given, checked as the server would. It
  refuses a directory a running server holds (one process owns a data directory) or one that holds no
  deskbase store. The SQL replica stays closed (it is the server's), so run_sql answers `unavailable`.

stdout is the protocol: nothing else may print there (logs go to stderr).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server

from deskbase import __version__
from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.errors import Unavailable
from deskbase.core.loops import live_holders
from deskbase.mcp.calls import SOURCE, Caller
from deskbase.mcp.server import INSTRUCTIONS, Endpoint

Ctx = ServerRequestContext[Any, Any]


async def _serve(server: Server[Any]) -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


# ---- proxy ----------------------------------------------------------------------------------------------
def forwarding(remote: Client) -> Server[Any]:
    """A stdio server answering every request with the remote server's answer (its errors included)."""

    async def list_tools(ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return await remote.list_tools(cursor=params.cursor if params else None)

    async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        return await remote.call_tool(params.name, params.arguments)

    async def list_resources(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return await remote.list_resources(cursor=params.cursor if params else None)

    async def list_templates(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return await remote.list_resource_templates(cursor=params.cursor if params else None)

    async def read_resource(ctx: Ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        return await remote.read_resource(str(params.uri))

    async def list_prompts(ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        return await remote.list_prompts(cursor=params.cursor if params else None)

    async def get_prompt(ctx: Ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        return await remote.get_prompt(params.name, params.arguments)

    return Server(
        "deskbase",
        version=__version__,
        title="deskbase",
        instructions=remote.instructions or INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )


async def _proxy(url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}", "User-Agent": f"deskbase-mcp/{__version__}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0)) as http,
        Client(streamable_http_client(url.rstrip("/") + "/mcp", http_client=http)) as remote,
    ):
        await _serve(forwarding(remote))


def proxy(url: str, token: str) -> None:
    """Forward until stdin closes (the caller has checked the server answers to the token)."""
    anyio.run(_proxy, url, token)


# ---- local ----------------------------------------------------------------------------------------------
def open_local(data_dir: Path, token: str | None = None) -> tuple[Deskbase, Actor]:
    """The store of `data_dir` opened in this process and the actor to act as (see the module docstring)."""
    from deskbase.compose import open_core

    settings = Settings.from_env(data_dir=str(data_dir), replicate=False, sla_scheduler=False, webhooks=False)
    if not settings.database_url and not (settings.data_path / "deskbase.db").is_file():
        raise Unavailable(
            f"no deskbase store in {settings.data_path}: run `deskbase serve --data-dir` there first",
            {"data_dir": str(settings.data_path)},
        )
    core = open_core(settings)
    try:
        running = live_holders(core.db, core.clock)
        if running:
            raise Unavailable(
                f"a deskbase server is running on {settings.data_path} (it holds {', '.join(running)}): use "
                "`deskbase mcp` with its URL and a token instead of --data-dir",
                {"data_dir": str(settings.data_path), "loops": running},
            )
        raw = token or core.tokens.ensure_admin_token(settings.data_path)[0]
        return core, core.tokens.authenticate(raw, SOURCE)
    except BaseException:
        core.close()
        raise


def local(data_dir: Path, token: str | None = None) -> None:
    core, actor = open_local(data_dir, token)
    try:
        anyio.run(_serve, Endpoint(core, fixed=Caller(core, actor)).server())
    finally:
        core.close()

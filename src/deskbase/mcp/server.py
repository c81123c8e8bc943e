"""The MCP server: request handlers over the tools, resources and prompts, for `/mcp` (the fixed tools, any
workspace of the token's scope) and `/mcp/w/{ws}` (tools generated from the workspace's collections).

Handlers are thin: who is calling (the actor `http.py` authenticated for this HTTP request, or the stdio
process's one caller), one request of the token's rate limit, the JSON rules every REST body follows, then the
tool in a worker thread (the core is synchronous, as under FastAPI's sync routes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext

from deskbase import __version__
from deskbase.api import body as json_rules
from deskbase.api.ratelimit import RateLimiter, spend
from deskbase.core.app import Deskbase
from deskbase.core.errors import NotFound, Unauthorized
from deskbase.mcp import analytics, factory, prompts, records, resources, tickets
from deskbase.mcp.calls import Caller, single_workspace, visible_workspaces
from deskbase.mcp.errors import request_error, tool_error, tool_result
from deskbase.mcp.tool import Listed, Tool

#: Where `http.py` leaves the authenticated actor and the endpoint's workspace in the ASGI scope.
ACTOR_KEY = "deskbase.actor"
WORKSPACE_KEY = "deskbase.workspace"
TOOLS: tuple[Tool, ...] = (*tickets.TOOLS, *records.TOOLS, *analytics.TOOLS)
BY_NAME = {t.name: t for t in TOOLS}
INSTRUCTIONS = (
    "deskbase is a customer-support system of record. Tickets have human numbers (#1042), a customer, a "
    "conversation (customer and agent messages, internal notes) and SLA clocks. Find work with "
    "search_tickets or sla_at_risk, read a ticket with get_ticket before acting on it, and pass the version "
    "you read as if_match when updating. Replies of type reply reach the customer: draft them for a human "
    'unless told to send. Errors come back as {"error": {code, message, details}} with the codes of the '
    "deskbase REST API (not_found, validation_failed, version_mismatch, forbidden …)."
)


@dataclass
class Endpoint:
    core: Deskbase
    per_workspace: bool = False
    limiter: RateLimiter | None = None
    #: The process's one caller (stdio on a data directory); None: the actor of each HTTP request.
    fixed: Caller | None = None

    def caller(self, ctx: ServerRequestContext[Any, Any]) -> Caller:
        if self.fixed is not None:
            return self.fixed
        scope = ctx.request.scope if ctx.request is not None else {}
        actor = scope.get(ACTOR_KEY)
        if actor is None:  # only `http.py` serves this endpoint, and it authenticates first
            raise Unauthorized("missing bearer token: send 'Authorization: Bearer dsk_…'")
        return Caller(self.core, actor, scope.get(WORKSPACE_KEY))

    # ---- tools ----------------------------------------------------------------------------------------
    def _listing(self, caller: Caller) -> list[types.Tool]:
        if caller.fixed_workspace is not None:
            return [t.listing(False) for t in factory.generated(caller, caller.fixed_workspace)]
        seen = visible_workspaces(self.core, caller.actor)
        required = single_workspace(self.core, caller.actor, seen) is None
        return [t.listing(required) for t in TOOLS if any(t.usable(caller.actor, ws) for ws in seen)]

    def _call(self, caller: Caller, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        tool: Listed | None
        if caller.fixed_workspace is not None:
            tool = factory.find(caller, caller.fixed_workspace, name)
        else:
            tool = BY_NAME.get(name)
        if tool is None:
            raise NotFound(f"unknown tool {name!r}", {"tool": name})
        return tool.invoke(caller, arguments)

    async def list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        try:
            caller = self.caller(ctx)
            listed = await anyio.to_thread.run_sync(self._listing, caller)
        except Exception as exc:
            raise request_error(exc, "tools/list") from None
        return types.ListToolsResult(tools=listed)

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        name = params.name
        try:
            caller = self.caller(ctx)
            spend(self.limiter, caller.actor)
            arguments = dict(params.arguments or {})
            json_rules.check(arguments)
            result = await anyio.to_thread.run_sync(self._call, caller, name, arguments)
        except Exception as exc:
            return tool_error(exc, f"tool {name}")
        return tool_result(result)

    # ---- resources and prompts --------------------------------------------------------------------------
    def _resources(self, caller: Caller) -> list[types.Resource]:
        seen = (
            [caller.fixed_workspace]
            if caller.fixed_workspace is not None
            else visible_workspaces(self.core, caller.actor)
        )
        return resources.listed(caller, seen)

    async def list_resources(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        try:
            found = await anyio.to_thread.run_sync(self._resources, self.caller(ctx))
        except Exception as exc:
            raise request_error(exc, "resources/list") from None
        return types.ListResourcesResult(resources=found)

    async def list_resource_templates(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=resources.templates())

    async def read_resource(
        self, ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        return await self._guarded(ctx, "resources/read", lambda c: resources.read(c, str(params.uri)))

    async def list_prompts(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=prompts.listed(self.per_workspace))

    async def get_prompt(
        self, ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        def fill(caller: Caller) -> types.GetPromptResult:
            json_rules.check(params.arguments or {})
            return prompts.get(caller, params.name, params.arguments)

        return await self._guarded(ctx, "prompts/get", fill)

    async def _guarded(
        self, ctx: ServerRequestContext[Any, Any], what: str, fn: Callable[[Caller], Any]
    ) -> Any:
        """A read that spends the rate limit and answers a failure as a JSON-RPC error with REST's code."""
        try:
            caller = self.caller(ctx)
            spend(self.limiter, caller.actor)
            return await anyio.to_thread.run_sync(fn, caller)
        except Exception as exc:
            raise request_error(exc, what) from None

    def server(self) -> Server[Any]:
        return Server(
            "deskbase" if not self.per_workspace else "deskbase-workspace",
            version=__version__,
            title="deskbase",
            instructions=INSTRUCTIONS,
            # Our input schemas map no argument to an `Mcp-Param-*` header: nothing to validate there, and no
            # tools/list (store reads) on every call of a 2026-07-28 client.
            get_tool_input_schema=lambda _name: None,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            on_list_resources=self.list_resources,
            on_list_resource_templates=self.list_resource_templates,
            on_read_resource=self.read_resource,
            on_list_prompts=self.list_prompts,
            on_get_prompt=self.get_prompt,
        )

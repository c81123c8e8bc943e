"""Streamable HTTP on the API server: `/mcp` and `/mcp/w/{ws}`, each behind the REST API's bearer-token
authentication (no or a bad token: 401 with the REST error body and `WWW-Authenticate: Bearer`).

Stateless with JSON responses: every POST carries its token and stands alone, so any API process can answer
it (scale-out runs many) and no session outlives a revoked token. The SDK's session managers run inside the
app's lifespan (`app.state.lifespans`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from deskbase.api.errors import error_response
from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize_scope
from deskbase.core.context import Actor
from deskbase.core.errors import DeskbaseError, Unavailable
from deskbase.core.ids import check_slug
from deskbase.mcp.calls import SOURCE
from deskbase.mcp.server import ACTOR_KEY, WORKSPACE_KEY, Endpoint

PATH = "/mcp"
WORKSPACE_PATH = "/mcp/w/{ws}"


def bearer(scope: Scope) -> str | None:
    """The token of an `Authorization: Bearer …` header (the scheme in any case), as FastAPI's HTTPBearer."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return (token.strip() or None) if scheme.lower() == "bearer" else None
    return None


class Managed:
    """The SDK's session manager of one endpoint, made anew each time the app's lifespan starts (an SDK
    manager runs once; an app may be started again, as tests and reloads do)."""

    def __init__(self, make: Callable[[], StreamableHTTPSessionManager]) -> None:
        self.make = make
        self.current: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        manager = self.make()
        async with manager.run():
            self.current = manager
            try:
                yield
            finally:
                self.current = None


class Authenticated:
    """ASGI: authenticate the request's token (as `api.deps.get_actor` does), check a per-workspace
    endpoint's workspace is in its scope, then hand the request to the SDK with the actor in the scope."""

    def __init__(self, core: Deskbase, manager: Managed, per_workspace: bool) -> None:
        self.core = core
        self.manager = manager
        self.per_workspace = per_workspace

    async def _actor(self, scope: Scope) -> Actor:
        raw = bearer(scope)
        actor = self.core.tokens.authenticate_cached(raw, SOURCE)
        if actor is None:
            actor = await run_in_threadpool(self.core.tokens.authenticate, raw, SOURCE)
        if self.per_workspace:
            ws = check_slug(scope["path_params"]["ws"], "workspace")
            authorize_scope(actor, ws)
            await run_in_threadpool(self.core.workspaces.get, ws)
            scope[WORKSPACE_KEY] = ws
        return actor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            scope[ACTOR_KEY] = await self._actor(scope)
        except DeskbaseError as exc:
            await error_response(exc)(scope, receive, send)
            return
        manager = self.manager.current
        if manager is None:
            await error_response(Unavailable("the MCP endpoint is not running"))(scope, receive, send)
            return
        await manager.handle_request(scope, receive, send)


def install(app: FastAPI, core: Deskbase) -> None:
    """Mount both endpoints (an `api.app.Extension`). Tool calls spend the REST API's rate limiter."""
    limiter = getattr(app.state, "limiter", None)
    for path, per_workspace in ((PATH, False), (WORKSPACE_PATH, True)):
        endpoint = Endpoint(core, per_workspace=per_workspace, limiter=limiter)

        def make(endpoint: Endpoint = endpoint) -> StreamableHTTPSessionManager:
            return StreamableHTTPSessionManager(
                endpoint.server(),
                stateless=True,
                json_response=True,
                max_request_body_size=core.settings.max_body_bytes,  # the API's cap, not the SDK's own
            )

        manager = Managed(make)
        # First in the route list: no other route shares the prefix, so a tool call skips matching its path
        # against every API and console route (a small cost: not measurable beside a call's ~4 ms).
        app.router.routes.insert(0, Route(path, endpoint=Authenticated(core, manager, per_workspace)))
        app.state.lifespans.append(manager.run)

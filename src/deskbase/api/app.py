"""create_app(): the FastAPI application around one Deskbase core."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from deskbase import __version__
from deskbase.api import errors, openapi
from deskbase.api.body import JsonBody
from deskbase.api.middleware import BodyLimit
from deskbase.api.paths import check_url
from deskbase.api.ratelimit import RateLimiter
from deskbase.api.routers import (
    collections,
    files,
    hooks,
    mail,
    members,
    notifications,
    records,
    relationships,
    search,
    sla,
    support,
    teams,
    tokens,
    triggers,
    users,
    workspaces,
)
from deskbase.core.app import Deskbase

Extension = Callable[[FastAPI, Deskbase], None]
#: Paths whose JSON bodies are another protocol's (MCP's JSON-RPC, mounted by `deskbase.mcp.http`): the JSON
#: body rules are applied by that adapter to the values it takes, and answered in its own error form.
RPC_PATHS = ("/mcp",)


def create_app(
    core: Deskbase,
    extensions: list[Extension] | None = None,
    on_startup: list[Callable[[], Any]] | None = None,
    on_shutdown: list[Callable[[], Any]] | None = None,
) -> FastAPI:
    """Build the API around an open core. Extensions (SQL endpoint, support routes, console, MCP) add
    routers; one that needs async work for the app's lifetime appends a context factory to
    `app.state.lifespans`, entered after the startup functions and left before the shutdown ones."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for fn in on_startup or []:
            fn()
        async with AsyncExitStack() as stack:
            for context in app.state.lifespans:
                await stack.enter_async_context(context())
            yield
        for fn in on_shutdown or []:
            fn()

    app = FastAPI(
        title="deskbase",
        version=__version__,
        description="A system of record for customer support: collections, records, relationships, SQL, SLAs.",
        lifespan=lifespan,
        dependencies=[Depends(check_url)],
    )
    app.state.core = core
    lifespans: list[Callable[[], AbstractAsyncContextManager[Any]]] = []
    app.state.lifespans = lifespans
    app.state.limiter = RateLimiter(core.settings.rate_limit_per_second, core.settings.rate_limit_burst)
    errors.install(app)
    openapi.install(app)
    # The last added runs first: answer every failure, cap the body, then check JSON bodies.
    app.add_middleware(JsonBody, exempt=RPC_PATHS)
    app.state.body_rules = []  # BodyRule list: extensions (the console) add theirs before the app serves
    app.add_middleware(
        BodyLimit,
        max_bytes=core.settings.max_body_bytes,
        upload_bytes=core.settings.max_file_bytes,
        mail_bytes=core.settings.max_mail_bytes,
        rules=app.state.body_rules,
    )
    app.add_middleware(errors.CatchAll)
    modules = (
        workspaces,
        collections,
        records,
        relationships,
        support,
        search,
        sla,
        tokens,
        triggers,
        hooks,
        files,
        mail,
        users,
        members,
        notifications,
        teams,
    )
    for module in modules:
        app.include_router(module.router)
    app.include_router(hooks.ingest_router)
    app.include_router(members.accept_router)
    app.include_router(records.documents_router)
    app.include_router(notifications.me_router)

    @app.get("/healthz", tags=["meta"], include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for ext in extensions or []:
        ext(app, core)
    return app

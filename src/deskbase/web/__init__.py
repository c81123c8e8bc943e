"""The agent console: server-rendered pages (Jinja2 + vendored htmx) served by the API's process at `/`.

`install_console(app, core)` is an extension like any other: it mounts the static assets and the console's
routers; every page authenticates through a console session and checks `authorize` as the API does.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from deskbase.core.app import Deskbase
from deskbase.web.http import Console
from deskbase.web.render import STATIC


def install_console(app: FastAPI, core: Deskbase) -> None:
    from deskbase.web.views import (
        auth,
        collections,
        dashboard,
        files,
        hook_log,
        hooks,
        integrations,
        new_ticket,
        queue,
        ticket,
        ticket_actions,
        trigger_log,
    )

    app.state.console = Console(core)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="console-static")
    # new_ticket first: "/tickets/new" must win over "/tickets/{ticket_id}".
    for module in (
        auth,
        queue,
        new_ticket,
        ticket,
        ticket_actions,
        dashboard,
        collections,
        integrations,
        trigger_log,
        hooks,
        hook_log,
        files,
    ):
        app.include_router(module.router)

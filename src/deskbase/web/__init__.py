"""The agent console: server-rendered pages (Jinja2 + vendored htmx) served by the API's process at `/`.

`install_console(app, core)` is an extension like any other: it mounts the static assets and the console's
routers; every page authenticates through a console session and checks `authorize` as the API does.
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from deskbase.api.middleware import MULTIPART_SLACK, BodyRule
from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.web import attachments
from deskbase.web.form_body import MAX_TEXT
from deskbase.web.http import Console
from deskbase.web.render import STATIC

#: The composer's post (it streams up to MAX_FILES files of max_file_bytes each to disk), and every other
#: console form (each reads its own text with form_body's smaller limit, answering its own 413 page).
COMPOSER_POST = re.compile(r"^/w/[^/]+/tickets/[^/]+/reply$")
CONSOLE_POST = re.compile(r"^/(w/|signin$|signout$|settings$)")


def body_rules(settings: Settings) -> list[BodyRule]:
    """The body limits of console posts; refused bodies get a page, since a browser sent them."""
    composer = attachments.MAX_FILES * (settings.max_file_bytes + MULTIPART_SLACK) + MAX_TEXT
    return [
        BodyRule("POST", COMPOSER_POST, max(composer, settings.max_body_bytes), page=True),
        BodyRule("POST", CONSOLE_POST, settings.max_body_bytes, page=True),
    ]


def install_console(app: FastAPI, core: Deskbase) -> None:
    from deskbase.web.views import (
        auth,
        collections,
        customers,
        dashboard,
        factors,
        files,
        hook_log,
        hooks,
        integrations,
        mailboxes,
        messages,
        new_ticket,
        notifications,
        people,
        queue,
        queue_bulk,
        search,
        sso,
        teams,
        ticket,
        ticket_actions,
        trigger_log,
        workspace_people,
    )

    app.state.console = Console(core)
    app.state.body_rules.extend(body_rules(core.settings))
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="console-static")
    # new_ticket first: "/tickets/new" must win over "/tickets/{ticket_id}", "/customers/search" over
    # "/customers/{cid}".
    for module in (
        auth,
        sso,
        people,
        factors,
        queue,
        queue_bulk,
        search,
        new_ticket,
        customers,
        ticket,
        ticket_actions,
        dashboard,
        collections,
        integrations,
        trigger_log,
        hooks,
        hook_log,
        files,
        messages,
        mailboxes,
        notifications,
        teams,
        workspace_people,
    ):
        app.include_router(module.router)

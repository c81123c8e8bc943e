"""A hook's page under Settings → Integrations: its summary and actions, and its ingest log (newest first, by
cursor, filtered by status, each refused ingest with its error). The route asks `authorize_manage` first and
reads the hook, its summary and the log page in one call to the events service.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.core.errors import InvalidFilter
from deskbase.events import ingest
from deskbase.events.service import authorize_manage
from deskbase.web import hook_rows as hr
from deskbase.web.http import ActorDep, render
from deskbase.web.integration_pages import HookPage
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import integrations_href, make_shell
from deskbase.web.views.integrations import MANAGE, owner_names, require_webhooks

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 50


@router.get("/w/{ws}/settings/integrations/hooks/{hook_id}", openapi_extra=MANAGE)
def hook(
    ws: str, hook_id: str, request: Request, actor: ActorDep, status: str = "", cursor: str | None = None
) -> Response:
    authorize_manage(actor, ws)
    service = require_webhooks(request)
    filter_error = None
    try:
        h, summary, log = service.hook_detail(ws, hook_id, cursor, PAGE_SIZE, status or None)
    except InvalidFilter as exc:  # an unknown status or a spoiled cursor: say so, show the first page
        filter_error, status = exc.message, ""
        h, summary, log = service.hook_detail(ws, hook_id, None, PAGE_SIZE, None)
    row = hr.hook_row(ws, str(request.base_url), h, summary, owner_names(request, actor))
    page = HookPage(
        hook=row,
        workspace=ws,
        back=integrations_href(ws),
        status=status,
        statuses=list(ingest.STATUSES),
        rows=[hr.ingest_view(ws, h["collection"], e) for e in log["data"]],
        next_href=hr.hook_href(ws, hook_id, status=status, cursor=log["next_cursor"])
        if log["next_cursor"]
        else None,
        first_href=hr.hook_href(ws, hook_id, status=status),
        filter_error=filter_error,
        paged=bool(cursor) and not filter_error,
    )
    shell = make_shell(request, actor, f"Hook {hook_id}", ws, "integrations")
    return render(request, "hook.html", page, shell)

"""A trigger's page under Settings → Integrations: its health, its delivery log (newest first, by cursor,
filtered by status, each delivery with its attempts), Retry per failed or exhausted delivery, and Replay
from a change sequence. Every route asks `authorize_manage` first and calls the events service once.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.core.context import Actor
from deskbase.core.errors import InvalidFilter
from deskbase.core.ids import RECORD_ID_RE
from deskbase.events import deliveries
from deskbase.events.service import authorize_manage
from deskbase.web import integrations as ig
from deskbase.web.http import ActorDep, FormDep, is_htmx, redirect, render
from deskbase.web.integration_pages import DeliveryUpdate, TriggerPage
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import integrations_href, make_shell
from deskbase.web.views.integrations import MANAGE, owner_names, require_webhooks

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 50


def trigger_page(
    request: Request,
    actor: Actor,
    ws: str,
    tid: str,
    status: str = "",
    cursor: str | None = None,
    notice: str | None = None,
    replay_error: str | None = None,
    since_seq: str = "",
    http_status: int = 200,
) -> Response:
    hooks = require_webhooks(request)
    filter_error = None
    try:
        t, h, log = hooks.detail(ws, tid, cursor, PAGE_SIZE, status or None)
    except InvalidFilter as exc:  # an unknown status or a spoiled cursor: say so, show the first page
        filter_error, status = exc.message, ""
        t, h, log = hooks.detail(ws, tid, None, PAGE_SIZE, None)
    row = ig.trigger_row(ws, t, h, owner_names(request, actor))
    page = TriggerPage(
        trigger=row,
        workspace=ws,
        back=integrations_href(ws),
        status=status,
        statuses=list(deliveries.STATUSES),
        rows=[ig.delivery_row(ws, d) for d in log["data"]],
        next_href=ig.trigger_href(ws, tid, status=status, cursor=log["next_cursor"])
        if log["next_cursor"]
        else None,
        first_href=ig.trigger_href(ws, tid, status=status),
        paged=bool(cursor) and not filter_error,
        filter_error=filter_error,
        notice=notice,
        replay_error=replay_error,
        since_seq=since_seq,
    )
    shell = make_shell(request, actor, f"Trigger {tid}", ws, "integrations")
    return render(request, "trigger.html", page, shell, status=http_status)


@router.get("/w/{ws}/settings/integrations/triggers/{trigger_id}", openapi_extra=MANAGE)
def trigger(
    ws: str,
    trigger_id: str,
    request: Request,
    actor: ActorDep,
    status: str = "",
    cursor: str | None = None,
    tested: str = "",
    retried: str = "",
) -> Response:
    authorize_manage(actor, ws)
    notice = None
    if RECORD_ID_RE.match(tested):  # only an id is echoed back into the page
        notice = f"Test event queued: delivery {tested}, at the top of the log."
    elif RECORD_ID_RE.match(retried):
        notice = f"Delivery {retried} queued to be sent again."
    return trigger_page(request, actor, ws, trigger_id, status, cursor, notice)


@router.post("/w/{ws}/settings/integrations/triggers/{trigger_id}/replay", openapi_extra=MANAGE)
def replay(ws: str, trigger_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Queue again every event the trigger matches from a change sequence on (the same event ids)."""
    authorize_manage(actor, ws)
    raw = (form.get("since_seq") or "").strip()
    if not raw.isdigit() or len(raw) > 18:
        error = "Enter a change sequence number (0 or more)."
        return trigger_page(
            request, actor, ws, trigger_id, replay_error=error, since_seq=raw, http_status=422
        )
    out = require_webhooks(request).replay(ws, trigger_id, int(raw))
    notice = f"Replay from seq {int(raw)}: {out['queued']} event{'' if out['queued'] == 1 else 's'} queued."
    if out["next_since_seq"] is not None:
        notice += f" More remain: replay again from seq {out['next_since_seq']}."
    return trigger_page(request, actor, ws, trigger_id, notice=notice, since_seq=raw)


@router.post("/w/{ws}/settings/integrations/deliveries/{delivery_id}/retry", openapi_extra=MANAGE)
def retry(ws: str, delivery_id: str, request: Request, actor: ActorDep, _form: FormDep) -> Response:
    """Send a delivery again now; htmx gets the updated row back, a plain form post the trigger's page."""
    authorize_manage(actor, ws)
    d = require_webhooks(request).retry(ws, delivery_id)
    if not is_htmx(request):
        return redirect(request, ig.trigger_href(ws, d["trigger_id"], retried=delivery_id))
    update = DeliveryUpdate(ig.delivery_row(ws, d), "Queued to be sent again.")
    shell = make_shell(request, actor, "Delivery", ws, "integrations")
    return render(request, "integrations/delivery_update.html", update, shell)

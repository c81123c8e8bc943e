"""The ticket page: conversation and composer, properties edited in place, customer, related tickets, SLA
clocks and timeline (GET routes; the forms post to ticket_actions)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.auth import authorize
from deskbase.core.clock import iso
from deskbase.support.tickets import text_condition
from deskbase.web import ticket as tk
from deskbase.web.held_toast import after_send
from deskbase.web.http import ActorDep, core_of, is_htmx, may, render
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import make_shell, prefs_of
from deskbase.web.ticket_pages import Composer, RelatedMatches, SlaRefresh

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
MATCHES = 8


def respond(
    request: Request,
    actor: ActorDep,
    ws: str,
    ticket_id: str,
    extras: tk.Extras | None = None,
    status: int = 200,
    panels: tuple[str, ...] = (),
) -> Response:
    """The whole page, or — for htmx — only `panels`, each swapped in place out of band (the composer is
    left alone unless named, so a draft survives a status change)."""
    core = core_of(request)
    prefs = prefs_of(core, actor)
    shell = make_shell(request, actor, "Ticket", ws, "ticket", prefs=prefs)
    x = extras or tk.Extras()
    if x.composer is None and may(actor, "write:records", ws, "responses"):
        # the composer as the agent left it, from any browser (core/agent_state.py)
        draft = core.drafts.get(ws, ticket_id, actor.id)
        if draft is not None:
            x.composer = Composer(body=draft.body, type=draft.type, draft_at=iso(draft.updated_at))
    seen = core.settled_seq(ws)  # taken before the page's reads: nothing later can be marked as seen
    shell.toast = x.toast
    page = tk.build(core, ws, actor, ticket_id, shell.now, prefs.me, x)
    core.reads.mark(ws, [ticket_id], actor.id, seen)
    shell.title = str(page.ticket["data"].get("subject") or "Ticket")
    if is_htmx(request) and panels:
        page.panels = panels
        return render(request, "ticket_update.html", page, shell, status=status)
    return render(request, "ticket.html", page, shell, status=status)


@router.get("/w/{ws}/tickets/{ticket_id}", openapi_extra=requires("read:records"))
def ticket_page(
    ws: str,
    ticket_id: str,
    request: Request,
    actor: ActorDep,
    unlinked: str = "",
    incoming: bool = False,
    held: str = "",
    held_on: str = "",
) -> Response:
    """The page; `unlinked` (after an unlink without scripts) offers to link that ticket again, `held` (a
    message just sent from here, or from `held_on` with "Send and next") offers to take it back."""
    authorize(actor, "read:records", ws, "tickets")
    core = core_of(request)
    x = tk.Extras()
    if unlinked and may(actor, "write:relationships", ws, "tickets"):
        x.toast = tk.unlinked_toast(core, ws, ticket_id, unlinked[:100], incoming, False)
    if held:
        x.toast = after_send(core, actor.id, ws, held, held_on, here=ticket_id)
    return respond(request, actor, ws, ticket_id, x)


@router.get("/w/{ws}/tickets/{ticket_id}/sla", openapi_extra=requires("read:records"))
def sla_panel(ws: str, ticket_id: str, request: Request, actor: ActorDep) -> Response:
    """Re-sent every minute while the page is open: business time only the server can count exactly."""
    authorize(actor, "read:records", ws, "tickets")
    core = core_of(request)
    core.records.get(ws, "tickets", ticket_id)
    shell = make_shell(request, actor, "SLA", ws, "ticket")
    panel, urgent, _ = tk.sla_parts(core, ws, ticket_id, shell.now)
    return render(request, "ticket/sla_refresh.html", SlaRefresh(panel, urgent), shell)


@router.get(
    "/w/{ws}/tickets/{ticket_id}/related/search", openapi_extra=requires("read:records", "read:relationships")
)
def related_search(
    ws: str, ticket_id: str, request: Request, actor: ActorDep, q: str = "", ticket: str = ""
) -> Response:
    """Tickets whose subject contains the text typed in the link box (`ticket`, or `q`), whose number it is
    (`#1042`) or whose id it is; each with its number, customer and status, so same-subject tickets differ."""
    authorize(actor, "read:records", ws, "tickets")
    authorize(actor, "read:relationships", ws, "tickets")
    core = core_of(request)
    core.records.get(ws, "tickets", ticket_id)
    text = (q or ticket).strip()[:200]
    matches = []
    if text:
        cond = {"or": [text_condition(text), {"field": "id", "op": "eq", "value": text}]}
        found = core.records.query(
            ws, "tickets", cond, [{"field": "updated_at", "direction": "desc"}], MATCHES + 1
        )["data"]
        linked = {r.ticket.id for r in tk.related(core, ws, actor, ticket_id, named=False)}
        matches = [tk.other_ticket(t, ws) for t in found if t["id"] != ticket_id and t["id"] not in linked][
            :MATCHES
        ]
        matches = tk.name_customers(core, ws, actor, matches)
    page = RelatedMatches(
        f"/w/{ws}/tickets/{ticket_id}", text, matches, may(actor, "write:relationships", ws, "tickets")
    )
    return render(request, "ticket/related_matches.html", page, make_shell(request, actor, "", ws))

"""The ticket queue page: views with counts, filters, sorts and keyset pages (plus the "show more" rows
fragment and the "N updated — refresh" poll)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.auth import authorize
from deskbase.web import queue as q
from deskbase.web.http import (
    ActorDep,
    Console,
    ConsoleRoute,
    console,
    core_of,
    make_shell,
    may,
    prefs_of,
    render,
    url,
)
from deskbase.web.pages import NavView, QueueFreshness, QueuePage

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def shared_counts(con: Console, ws: str, seq: int) -> dict[str, int | None]:
    """The counts everyone in the workspace shares, kept once per workspace. "At risk" moves with the clock,
    so they are stamped with the minute as well as the change sequence."""
    core, counts = con.core, con.counts
    stamp = (seq, core.clock.now().replace(second=0, microsecond=0))
    return counts.get((ws, "\x00shared"), stamp, lambda: q.view_counts(core, ws, "", counts.fanout, False))


def view_counts(request: Request, ws: str, me: str, seq: int) -> dict[str, int | None]:
    """Shared view counts are kept once per workspace, "My open tickets" once per person."""
    con = console(request)
    mine = con.counts.get((ws, me), seq, lambda: q.view_counts(con.core, ws, me, con.counts.fanout, True))
    return {**shared_counts(con, ws, seq), **mine}


def nav_views(counts: dict[str, int | None], ws: str, active: str) -> list[NavView]:
    base = f"/w/{quote(ws)}/queue"
    return [NavView(v.id, v.label, url(base, view=v.id), counts.get(v.id), v.id == active) for v in q.VIEWS]


@router.get("/w/{ws}/queue", openapi_extra=requires("read:records"))
def queue(
    ws: str,
    request: Request,
    actor: ActorDep,
    view: str = "mine",
    sort: str = "sla_due",
    cursor: str | None = None,
    fragment: str | None = None,
) -> Response:
    authorize(actor, "read:records", ws, "tickets")
    core = core_of(request)
    view = view if view in q.VIEW_BY_ID else "mine"
    sort = sort if sort in dict(q.SORTS) else "sla_due"
    prefs = prefs_of(core, actor)
    options = q.options_from_schema(core.collections.get(ws, "tickets")["json_schema"])
    filters, errors = q.parse_filters(dict(request.query_params), options)
    since = core.last_seq(ws)
    counts = view_counts(request, ws, prefs.me, since) if fragment != "rows" else {}
    # An unfiltered view's total is its navigation count: count once, not twice.
    known = counts.get(view) if not filters.active() and not q.VIEW_BY_ID[view].sla else None
    page = q.load(
        core, ws, view, filters, sort, cursor, prefs.me, known_count=known, counted=fragment != "rows"
    )
    with_customers = may(actor, "read:records", ws, "customers") and may(
        actor, "read:relationships", ws, "customers"
    )
    base = f"/w/{quote(ws)}/queue"
    params = {"view": view, "sort": sort, **{k: v for k, v in vars(filters).items() if v}}
    shell = make_shell(
        request,
        actor,
        q.VIEW_BY_ID[view].label,
        ws,
        "queue",
        nav=None if fragment == "rows" else nav_views(counts, ws, view),
        prefs=prefs,
    )
    body = QueuePage(
        view=view,
        view_label=q.VIEW_BY_ID[view].label,
        filters=filters,
        filter_errors=errors,
        options=options,
        sort=sort,
        sorts=list(q.SORTS),
        rows=q.rows(core, ws, actor, page.tickets, shell.now, with_customers),
        count=page.count,
        count_capped=page.capped,
        next_href=url(base, **params, cursor=page.next_cursor) if page.next_cursor else None,
        more_href=url(base, **params, cursor=page.next_cursor, fragment="rows") if page.next_cursor else None,
        self_href=url(base, **params),
        notice=page.notice,
        me=prefs.me,
        since=since,
        show_customer=with_customers,
        paged=bool(cursor),
    )
    template = "queue_rows.html" if fragment == "rows" else "queue.html"
    return render(request, template, body, shell)


@router.get("/w/{ws}/queue/fresh", openapi_extra=requires("read:records"))
def freshness(ws: str, request: Request, actor: ActorDep, since: int = 0, href: str = "") -> Response:
    """How many tickets changed since the queue was drawn: the list is never reordered under the cursor,
    the agent refreshes when ready."""
    authorize(actor, "read:records", ws, "tickets")
    core = core_of(request)
    feed = core.changes(ws, after=since, limit=1000)
    changed = {
        e["entity_id"] for e in feed["data"] if e["entity"] == "record" and e.get("collection") == "tickets"
    }
    target = href if href.startswith(f"/w/{quote(ws)}/queue") else f"/w/{quote(ws)}/queue"
    shell = make_shell(request, actor, "", ws)
    return render(request, "queue_fresh.html", QueueFreshness(len(changed), target), shell)

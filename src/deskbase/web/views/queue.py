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
from deskbase.web.pages import NavView, QueueFreshness, QueueNav, QueuePage

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


#: how long a page waits for counts nobody has taken yet before it loads them in a second request
NAV_WAIT_SECONDS = 0.05
Counts = dict[str, int | None]


def shared_counts(con: Console, ws: str, seq: int, wait: float | None = None) -> Counts | None:
    """The counts everyone in the workspace shares, kept once per workspace. "At risk" moves with the clock,
    so they are stamped with the minute as well as the change sequence. With `wait`, None when not ready."""
    core, counts = con.core, con.counts
    stamp = (seq, core.clock.now().replace(second=0, microsecond=0))
    key = (ws, "\x00shared")
    if wait is None:
        return counts.get(key, stamp, lambda: q.view_counts(core, ws, "", counts.fanout, False))
    return counts.within(key, stamp, lambda: q.view_counts(core, ws, "", counts.fanout, False), wait)


def view_counts(request: Request, ws: str, me: str, seq: int, wait: float | None = None) -> Counts | None:
    """Shared view counts are kept once per workspace, "My open tickets" once per person."""
    con = console(request)

    def mine_now() -> Counts:
        return q.view_counts(con.core, ws, me, con.counts.fanout, True)

    shared = shared_counts(con, ws, seq, wait)
    mine = (
        con.counts.get((ws, me), seq, mine_now)
        if wait is None
        else con.counts.within((ws, me), seq, mine_now, wait)
    )
    return None if shared is None or mine is None else {**shared, **mine}


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
    ready = view_counts(request, ws, prefs.me, since, NAV_WAIT_SECONDS) if fragment != "rows" else {}
    counts = ready or {}
    # An unfiltered view's total is its navigation count: count once, not twice.
    known = counts.get(view) if not filters.active() and not q.VIEW_BY_ID[view].sla else None
    # While the navigation's counts are still being taken (the first visit after a start), an unfiltered
    # view's total comes with them rather than from a second count of the same rows.
    counted = fragment != "rows" and (ready is not None or filters.active() or q.VIEW_BY_ID[view].sla)
    page = q.load(core, ws, view, filters, sort, cursor, prefs.me, known_count=known, counted=counted)
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
    if ready is None:
        total = None if counted else "1"
        shell.nav_counts_href = url(f"/w/{quote(ws)}/queue/nav", view=view, total=total)
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


@router.get("/w/{ws}/queue/nav", openapi_extra=requires("read:records"))
def nav(ws: str, request: Request, actor: ActorDep, view: str = "mine", total: bool = False) -> Response:
    """The navigation with its counts, for a page drawn before they were ready (this request waits);
    `total` also sends the view's count for the page's count line."""
    authorize(actor, "read:records", ws, "tickets")
    core = core_of(request)
    prefs = prefs_of(core, actor)
    view = view if view in q.VIEW_BY_ID else "mine"
    counts = view_counts(request, ws, prefs.me, core.last_seq(ws)) or {}
    shell = make_shell(request, actor, "Queues", ws, "queue", nav=nav_views(counts, ws, view), prefs=prefs)
    return render(request, "queue_nav.html", QueueNav(counts.get(view) if total else None), shell)


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

"""The ticket queue page: views with counts, filters, sorts and keyset pages (plus the "show more" rows
fragment and the "N updated — refresh" poll) and saved views. The bulk bar's routes are queue_bulk.py's."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize
from deskbase.core.context import Actor
from deskbase.core.scope import ReadScope
from deskbase.web import queue as q
from deskbase.web import undo as undos
from deskbase.web.agent_picker import agent_options
from deskbase.web.http import ActorDep, Console, FormDep, console, core_of, may, redirect, render, url
from deskbase.web.pages import NavView, Toast
from deskbase.web.queue_pages import BulkForm, QueueFilters, QueueFreshness, QueueNav, QueuePage
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import Prefs, make_shell, prefs_of
from deskbase.web.ticket import AGENTS

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


def view_counts(
    request: Request, ws: str, me: str, seq: int, wait: float | None = None, teams: tuple[str, ...] = ()
) -> Counts | None:
    """Shared view counts are kept once per workspace, "My open tickets" and "My team's open" once per
    person (and set of teams)."""
    con = console(request)

    def mine_now() -> Counts:
        return q.view_counts(con.core, ws, me, con.counts.fanout, True, teams)

    shared = shared_counts(con, ws, seq, wait)
    # one person's open tickets and their teams': narrow indexed counts
    mine = con.counts.get((ws, "\x1f".join((me, *teams))), seq, mine_now)
    return None if shared is None else {**shared, **mine}


def nav_views(counts: dict[str, int | None], ws: str, active: str) -> list[NavView]:
    base = f"/w/{quote(ws)}/queue"
    return [NavView(v.id, v.label, url(base, view=v.id), counts.get(v.id), v.id == active) for v in q.VIEWS]


@router.get("/w/{ws}/queue", openapi_extra=requires("read:records"))
def queue(
    ws: str,
    request: Request,
    actor: ActorDep,
    cursor: str | None = None,
    fragment: str | None = None,
    done: int | None = None,
    undo: str | None = None,
    restored: int | None = None,
    kept: int = 0,
) -> Response:
    authorize(actor, "read:records", ws, "tickets")
    state = BulkForm(done=done, undo=undo, restored=restored, kept=kept)
    return queue_page(request, actor, ws, dict(request.query_params), cursor, fragment, state)


def view_and_sort(params: dict[str, str]) -> tuple[str, str]:
    """The view and sort a query string or form names, or the defaults for unknown ones."""
    view, sort = params.get("view") or "", params.get("sort") or ""
    return (view if view in q.VIEW_BY_ID else "mine"), (sort if sort in dict(q.SORTS) else "sla_due")


def queue_page(
    request: Request,
    actor: Actor,
    ws: str,
    params: dict[str, str],
    cursor: str | None = None,
    fragment: str | None = None,
    bulk: BulkForm | None = None,
    status: int = 200,
    save_error: str | None = None,
) -> Response:
    """The queue for `params` (view, sort and filters, from the query string or a bulk form's echo)."""
    core = core_of(request)
    view, sort = view_and_sort(params)
    prefs = prefs_of(core, actor)
    options = q.options_from_schema(core.collections.get(ws, "tickets")["json_schema"])
    filters, errors = q.parse_filters(params, options)
    since = core.settled_seq(ws)
    teams = q.my_teams(core, ws, actor)
    ready = view_counts(request, ws, prefs.me, since, NAV_WAIT_SECONDS, teams) if fragment != "rows" else {}
    counts = ready or {}
    # An unfiltered view's total is its navigation count: count once, not twice.
    known = counts.get(view) if not filters.active() and not q.VIEW_BY_ID[view].sla else None
    # While the navigation's counts are still being taken (the first visit after a start), an unfiltered
    # view's total comes with them rather than from a second count of the same rows.
    counted = fragment != "rows" and (ready is not None or filters.active() or q.VIEW_BY_ID[view].sla)
    page = q.load(
        core,
        ws,
        view,
        filters,
        sort,
        cursor,
        prefs.me,
        ReadScope(actor, ws),
        known_count=known,
        counted=counted,
        teams=teams,
    )
    with_customers = may(actor, "read:records", ws, "customers") and may(
        actor, "read:relationships", ws, "customers"
    )
    base = f"/w/{quote(ws)}/queue"
    query = {"view": view, "sort": sort, **{k: v for k, v in vars(filters).items() if v}}
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
    shell.saved = saved_nav(prefs, ws, url(base, **query))
    if any(v.active for v in shell.saved):  # one current page in the nav: the saved view, not its base view
        shell.nav = [replace(v, active=False) for v in shell.nav]
    body = QueuePage(
        view=view,
        view_label=q.VIEW_BY_ID[view].label,
        filters=filters,
        filter_errors=errors,
        options=options,
        sort=sort,
        sorts=list(q.SORTS),
        rows=q.rows(
            core,
            ws,
            actor,
            page.tickets,
            shell.now,
            with_customers,
            core.reads.changed_since_seen(ws, actor.id, {t["id"]: t["version"] for t in page.tickets}),
        ),
        count=page.count,
        count_capped=page.capped,
        next_href=url(base, **query, cursor=page.next_cursor) if page.next_cursor else None,
        more_href=url(base, **query, cursor=page.next_cursor, fragment="rows") if page.next_cursor else None,
        self_href=url(base, **query),
        notice=page.notice,
        me=prefs.me,
        since=since,
        show_customer=with_customers,
        paged=bool(cursor),
        saved_as=next((v.label for v in shell.saved if v.active), None),
        save_error=save_error,
        bulk=bulk or BulkForm(),
        can_bulk=may(actor, "write:records", ws, "tickets"),
        agents=sorted({*AGENTS.get(core, ws), prefs.me}),
        picker=agent_options(core, ws)
        if page.tickets and may(actor, "write:records", ws, "tickets")
        else None,
    )
    shell.toast = toast(core, actor, ws, body, params, query)
    template = "queue_rows.html" if fragment == "rows" else "queue.html"
    return render(request, template, body, shell, status=status)


def toast(
    core: Deskbase, actor: Actor, ws: str, page: QueuePage, params: dict[str, str], query: dict[str, str]
) -> Toast | None:
    """Undo for what the previous request did: a bulk change (while its entry lives), or a deleted saved
    view (saved again under its name, at its place, with the filters the page shows)."""
    base = f"/w/{quote(ws)}/queue"
    echo = list(query.items())
    if page.bulk.undo and page.bulk.done is not None and undos.peek(core, actor.id, page.bulk.undo):
        n = page.bulk.done
        text = f"Updated {n:,} ticket{'' if n == 1 else 's'}."
        fields = [("undo", page.bulk.undo), *echo]
        return Toast(text, f"{base}/bulk/undo", fields, undos.TOAST_SECONDS)
    name = " ".join((params.get("unsaved") or "").split())[:NAME_MAX]
    if name:
        at = params.get("at") or ""
        fields = [("name", name), *echo, *([("at", at)] if at.isdigit() else [])]
        return Toast(f"Deleted the saved view “{name}”.", f"{base}/views", fields, undos.TOAST_SECONDS)
    return None


SAVED_MAX = 20
NAME_MAX = 60


def saved_nav(prefs: Prefs, ws: str, here: str) -> list[NavView]:
    base = f"/w/{quote(ws)}/queue"
    return [
        NavView(f"saved:{v['name']}", v["name"], f"{base}?{v['query']}", None, f"{base}?{v['query']}" == here)
        for v in prefs.views.get(ws, [])
        if isinstance(v, dict) and isinstance(v.get("name"), str) and isinstance(v.get("query"), str)
    ]


def echoed(form: dict[str, str]) -> dict[str, str]:
    """The view, sort and filters a form repeats from the queue it was posted from."""
    return {k: form.get(k, "") for k in ("view", "sort", *QueueFilters.__dataclass_fields__)}


@router.post("/w/{ws}/queue/views", openapi_extra=requires("read:records"))
def save_view(ws: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Save the queue's view, sort and filters under a name, in the user's preferences (per workspace)."""
    authorize(actor, "read:records", ws, "tickets")
    core = core_of(request)
    params = echoed(form)
    options = q.options_from_schema(core.collections.get(ws, "tickets")["json_schema"])
    filters, errors = q.parse_filters(params, options)
    view, sort = view_and_sort(params)
    name = " ".join((form.get("name") or "").split())
    prefs = prefs_of(core, actor)
    mine = [v for v in prefs.views.get(ws, []) if v.get("name") != name]
    error = None
    if not name or len(name) > NAME_MAX or not name.isprintable():
        error = f"Name the view (1-{NAME_MAX} characters)."
    elif errors:
        error = "Fix the filters before saving the view."
    elif len(mine) >= SAVED_MAX:
        error = f"You have {SAVED_MAX} saved views here already; delete one first."
    if error is not None:
        return queue_page(request, actor, ws, params, status=422, save_error=error)
    query = url("", view=view, sort=sort, **{k: v for k, v in vars(filters).items() if v})[1:]
    at = form.get("at") or ""
    place = min(int(at), len(mine)) if at.isdigit() else len(mine)  # an undone deletion returns to its place
    mine.insert(place, {"name": name, "query": query})
    core.preferences.update(actor.id, {"views": {**prefs.views, ws: mine}})
    return redirect(request, f"/w/{quote(ws)}/queue?{query}")


@router.post("/w/{ws}/queue/views/delete", openapi_extra=requires("read:records"))
def delete_view(ws: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    authorize(actor, "read:records", ws, "tickets")
    core = core_of(request)
    prefs = prefs_of(core, actor)
    name = form.get("name") or ""
    views = prefs.views.get(ws, [])
    at = next((i for i, v in enumerate(views) if v.get("name") == name), None)
    kept = [v for v in views if v.get("name") != name]
    core.preferences.update(actor.id, {"views": {**prefs.views, ws: kept}})
    query = {k: v for k, v in echoed(form).items() if v}
    if at is None:
        return redirect(request, url(f"/w/{quote(ws)}/queue", **query))
    # the page offers Undo: save it again under its name, at its place
    return redirect(request, url(f"/w/{quote(ws)}/queue", **query, unsaved=name, at=str(at)))


def form_list(request: Request, name: str) -> list[str]:
    """Every value of a repeated form field (FormDep keeps the last one only)."""
    form = getattr(request.state, "form", None)
    return [v for v in form.getlist(name) if isinstance(v, str)] if form is not None else []


@router.get("/w/{ws}/queue/nav", openapi_extra=requires("read:records"))
def nav(ws: str, request: Request, actor: ActorDep, view: str = "mine", total: bool = False) -> Response:
    """The navigation with its counts, for a page drawn before they were ready (this request waits);
    `total` also sends the view's count for the page's count line."""
    authorize(actor, "read:records", ws, "tickets")
    core = core_of(request)
    prefs = prefs_of(core, actor)
    view = view if view in q.VIEW_BY_ID else "mine"
    counts = view_counts(request, ws, prefs.me, core.settled_seq(ws), teams=q.my_teams(core, ws, actor)) or {}
    shell = make_shell(request, actor, "Queues", ws, "queue", nav=nav_views(counts, ws, view), prefs=prefs)
    shell.saved = saved_nav(prefs, ws, "")
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

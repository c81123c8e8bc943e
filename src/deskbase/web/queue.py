"""The ticket queue: views, filters and sorts as filter-DSL queries on the core, counts, and the rows of a
page with their customers and SLA chips fetched in batches (one query each, never one per row)."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.scope import ReadScope
from deskbase.support.finder import ticket_condition
from deskbase.support.service import SlaService
from deskbase.web.pages import CustomerRef
from deskbase.web.queue_pages import QueueFilters, QueueRow
from deskbase.web.sla import clock

UNSOLVED = ("open", "in_progress", "waiting")
ENUM_FIELDS = ("status", "priority", "category", "channel")
PAGE_SIZE = 50
#: a filtered list counts up to here and then says "1,000+": exact totals of arbitrary filters would cost a
#: scan of the collection when no index narrows them.
COUNT_LIMIT = 1000
#: the filter value that stands for "not set" (`is_null`): the dashboard's "none" and "(unassigned)" rows
#: link to it, so a queue can list exactly the tickets such a row counts.
NONE = "(none)"
#: the most minutes At risk may look ahead (`within`); its default is two hours
WITHIN_MAX = 120


@dataclass(frozen=True)
class View:
    id: str
    label: str
    sla: bool = False  #: served by the SLA service's queue


VIEWS = (
    View("mine", "My open tickets"),
    View("team", "My team's open"),
    View("unassigned", "Unassigned"),
    View("open", "All open"),
    View("waiting", "Waiting on customer"),
    View("at_risk", "At risk", sla=True),
    View("breached", "Breached", sla=True),
    View("all", "All tickets"),
)
VIEW_BY_ID = {v.id: v for v in VIEWS}
SORTS = (
    ("sla_due", "SLA due first"),
    ("updated", "Recently updated"),
    ("created", "Newest first"),
    ("created_asc", "Oldest first"),
)
SORT_SPECS: dict[str, list[dict[str, str]]] = {
    "updated": [{"field": "updated_at", "direction": "desc"}],
    "created": [{"field": "created_at", "direction": "desc"}],
    "created_asc": [{"field": "created_at", "direction": "asc"}],
}


def unsolved() -> dict[str, Any]:
    return {"field": "data.status", "op": "in", "value": list(UNSOLVED)}


#: A condition no ticket meets ("My team's open" for someone in no team).
NOTHING = {"and": [{"field": "data.team", "op": "is_null"}, {"field": "data.team", "op": "is_not_null"}]}


def my_teams(core: Deskbase, workspace_id: str, actor: Actor) -> tuple[str, ...]:
    """The teams of the signed-in person in the workspace (none for a token's session)."""
    if actor.user_id is None:
        return ()
    with core.db.read() as conn:
        return tuple(core.teams.of_user(conn, workspace_id, actor.user_id))


def view_condition(view: str, me: str, teams: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """The filter a view stands for (SLA views are chosen by the SLA service, not by a filter)."""
    if view == "mine":
        return {"and": [{"field": "data.assignee", "op": "eq", "value": me}, unsolved()]}
    if view == "team":
        mine = {"field": "data.team", "op": "in", "value": list(teams)} if teams else NOTHING
        return {"and": [mine, unsolved()]}
    if view == "unassigned":
        return {"and": [{"field": "data.assignee", "op": "is_null"}, unsolved()]}
    if view == "open":
        return unsolved()
    if view == "waiting":
        return {"field": "data.status", "op": "eq", "value": "waiting"}
    return None


def field_condition(name: str, values: list[str]) -> dict[str, Any]:
    """One filter field naming one or more values (either matches); NONE matches a field that is not set."""
    path = f"data.{name}"
    given = [v for v in values if v != NONE]
    parts: list[dict[str, Any]] = [{"field": path, "op": "is_null"}] if NONE in values else []
    if len(given) == 1:
        parts.append({"field": path, "op": "eq", "value": given[0]})
    elif given:
        parts.append({"field": path, "op": "in", "value": given})
    return parts[0] if len(parts) == 1 else {"or": parts}


PARTIAL = (
    "These words match more tickets than one search reads, so the list holds the newest matches of them only: "
    "add a word to narrow it."
)


def text_filter(core: Deskbase, scope: ReadScope, text: str) -> tuple[dict[str, Any], str | None]:
    """The search box's condition (support/finder.py `ticket_condition`), and a notice when it is partial."""
    condition, complete = ticket_condition(core, scope, text)
    return condition, None if complete else PARTIAL


def filter_conditions(f: QueueFilters, text: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """An enum filter may name several values, comma separated (`status=open,in_progress`: either). `text`
    is the search box's condition (`text_filter`), when it has one."""
    out: list[dict[str, Any]] = []
    for name in (*ENUM_FIELDS, "assignee"):
        value = getattr(f, name)
        if value:
            out.append(field_condition(name, value.split(",") if name in ENUM_FIELDS else [value]))
    if f.tag:
        out.append({"field": "data.tags", "op": "has", "value": f.tag})
    if text is not None:
        out.append(text)
    return out


def combine(*conds: dict[str, Any] | None) -> dict[str, Any] | None:
    parts = [c for c in conds if c]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"and": parts}


def options_from_schema(schema: dict[str, Any]) -> dict[str, list[str]]:
    """Enum choices of the ticket fields, read from the collection's schema (so a changed schema shows)."""
    props = schema.get("properties") or {}
    return {
        name: [str(v) for v in (props.get(name) or {}).get("enum") or []]
        for name in ENUM_FIELDS
        if isinstance(props.get(name), dict)
    }


def parse_filters(
    params: dict[str, str], options: dict[str, list[str]]
) -> tuple[QueueFilters, dict[str, str]]:
    """Filters from the query string; an unknown enum value is reported beside its field and ignored.
    NONE is a value of every enum field; `within` (At risk's look-ahead) is whole minutes, 1 to WITHIN_MAX."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for name in QueueFilters.__dataclass_fields__:
        raw = (params.get(name) or "").strip()[:200]
        if raw and name == "within" and not (raw.isdigit() and 0 < int(raw) <= WITHIN_MAX):
            errors[name] = f"Look ahead 1 to {WITHIN_MAX} minutes, not {raw!r}"
            raw = ""
        if raw and name in options and options[name]:
            picked = list(dict.fromkeys(v.strip() for v in raw.split(",") if v.strip()))
            wrong = [v for v in picked if v not in options[name] and v != NONE]
            if wrong:
                errors[name] = f"{wrong[0]!r} is not a {name}; choose one of {', '.join(options[name])}"
                picked = []
            raw = ",".join(picked)
        values[name] = raw
    return QueueFilters(**values), errors


def sla_service(core: Deskbase) -> Any:
    return core.extensions.get(SlaService)


def sla_queue(core: Deskbase) -> Any:
    """The SLA service's queue reader, or None (older service or none at all)."""
    sla = sla_service(core)
    return getattr(sla, "queue", None) if sla is not None else None


@dataclass
class Page:
    tickets: list[dict[str, Any]]
    next_cursor: str | None
    count: int | None
    notice: str | None
    capped: bool = False  #: `count` stopped at COUNT_LIMIT


def sla_filters(f: QueueFilters, condition: dict[str, Any] | None, me: str) -> dict[str, Any]:
    """What the SLA service's queue gets: the combined filter DSL, plus the plain fields it may prefer."""
    plain = {k: v for k, v in vars(f).items() if v}
    return {**plain, "filter": condition, "me": me}


def load(
    core: Deskbase,
    workspace_id: str,
    view: str,
    f: QueueFilters,
    sort: str,
    cursor: str | None,
    me: str,
    scope: ReadScope,
    limit: int | None = None,
    known_count: int | None = None,
    counted: bool = True,
    teams: tuple[str, ...] = (),
) -> Page:
    """One page of the queue with its total count (`known_count` when the caller already has it; none at
    all when not `counted`, for the "show more" rows)."""
    limit = limit or PAGE_SIZE
    text, partial = text_filter(core, scope, f.q) if f.q else (None, None)
    condition = combine(view_condition(view, me, teams), *filter_conditions(f, text))
    page = _load(core, workspace_id, view, f, sort, cursor, me, limit, known_count, counted, condition)
    page.notice = " ".join(n for n in (page.notice, partial) if n) or None
    return page


def _load(
    core: Deskbase,
    workspace_id: str,
    view: str,
    f: QueueFilters,
    sort: str,
    cursor: str | None,
    me: str,
    limit: int,
    known_count: int | None,
    counted: bool,
    condition: dict[str, Any] | None,
) -> Page:
    reader = sla_queue(core)
    if VIEW_BY_ID[view].sla or sort == "sla_due":
        if reader is not None:
            # The SLA views' totals come from the service (an index-only count); any other view is counted
            # here, up to COUNT_LIMIT like every filtered list.
            sla_view = VIEW_BY_ID[view].sla
            need = known_count is None and counted
            res = reader(
                workspace_id, view, sla_filters(f, condition, me), limit, cursor, count=need and sla_view
            )
            rows, nxt = list(res.get("data") or []), res.get("next_cursor")
            if sla_view or not need:
                return Page(rows, nxt, res.get("count") if need else known_count, None)
            n = core.records.count(workspace_id, "tickets", condition, limit=COUNT_LIMIT + 1)
            return Page(rows, nxt, min(n, COUNT_LIMIT), None, n > COUNT_LIMIT)
        if VIEW_BY_ID[view].sla:
            reason = "the SLA service is not running" if sla_service(core) is None else "it has no queue yet"
            return Page([], None, None, f"This view needs the SLA service's queue, and {reason}.")
        notice = "SLA ordering is not available here, so the most recently updated tickets come first."
        sort = "updated"
    else:
        notice = None
    res = core.records.query(
        workspace_id, "tickets", condition, SORT_SPECS.get(sort, SORT_SPECS["updated"]), limit, cursor
    )
    if known_count is not None or not counted:
        return Page(res["data"], res["next_cursor"], known_count, notice)
    count = core.records.count(workspace_id, "tickets", condition, limit=COUNT_LIMIT + 1)
    return Page(res["data"], res["next_cursor"], min(count, COUNT_LIMIT), notice, count > COUNT_LIMIT)


#: views whose count depends on who is asking; the others are shared by everyone in the workspace
PERSONAL = ("mine", "team")


def view_counts(
    core: Deskbase,
    workspace_id: str,
    me: str,
    pool: Executor | None = None,
    personal: bool | None = None,
    teams: tuple[str, ...] = (),
) -> dict[str, int | None]:
    """The count beside each view in the navigation: indexed counts on the core, SLA views from the service.
    `personal` True counts only the views that depend on `me`, False only the shared ones (None: all).
    With a `pool` they run side by side (SQLite and PostgreSQL both serve concurrent readers)."""
    reader = sla_queue(core)
    views = [v for v in VIEWS if personal is None or (v.id in PERSONAL) == personal]

    def one(v: View) -> int | None:
        if not v.sla:
            return core.records.count(workspace_id, "tickets", view_condition(v.id, me, teams))
        if reader is None:
            return None
        return reader(workspace_id, v.id, sla_filters(QueueFilters(), None, me), 1, None).get("count")

    if pool is None:
        return {v.id: one(v) for v in views}
    futures = {v.id: pool.submit(one, v) for v in views}
    return {k: f.result() for k, f in futures.items()}


def customer_ref(record: dict[str, Any]) -> CustomerRef:
    d = record.get("data") or {}
    return CustomerRef(
        id=record["id"],
        name=str(d.get("name") or d.get("email") or record["id"]),
        email=str(d.get("email") or ""),
        company=d.get("company"),
        plan=d.get("plan"),
    )


def customers_of(
    core: Deskbase, workspace_id: str, actor: Actor, ticket_ids: list[str]
) -> dict[str, CustomerRef]:
    """ticket id -> customer, in two queries: the page's submitted_by links, then those customers."""
    links = core.relationships.linked(workspace_id, "submitted_by", "tickets", ticket_ids, actor=actor)
    by_ticket = {link["source"]["id"]: link["target"]["id"] for link in links}
    wanted = sorted(set(by_ticket.values()))
    if not wanted:
        return {}
    found = core.records.query(
        workspace_id, "customers", {"field": "id", "op": "in", "value": wanted}, limit=len(wanted)
    )["data"]
    refs = {c["id"]: customer_ref(c) for c in found}
    return {t: refs[c] for t, c in by_ticket.items() if c in refs}


def rows(
    core: Deskbase,
    workspace_id: str,
    actor: Actor,
    tickets: list[dict[str, Any]],
    now: datetime,
    with_customers: bool,
    unread: set[str] | None = None,
) -> list[QueueRow]:
    ids = [t["id"] for t in tickets]
    customers = customers_of(core, workspace_id, actor, ids) if with_customers and ids else {}
    sla = sla_service(core)
    chips = sla.clocks(workspace_id, ids) if sla is not None and ids else {}
    out = []
    for t in tickets:
        d = t.get("data") or {}
        inst = chips.get(t["id"])
        out.append(
            QueueRow(
                id=t["id"],
                href=f"/w/{workspace_id}/tickets/{t['id']}",
                subject=str(d.get("subject") or "(no subject)"),
                status=str(d.get("status") or ""),
                priority=str(d.get("priority") or ""),
                assignee=d.get("assignee"),
                customer=customers.get(t["id"]),
                chip=clock(inst, now, exact=False) if inst else None,
                tags=[str(x) for x in d.get("tags") or []],
                created_at=t["created_at"],
                updated_at=t["updated_at"],
                unread=t["id"] in (unread or ()),
                number=t.get("number"),
            )
        )
    return out

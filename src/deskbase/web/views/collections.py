"""The collection browser: every collection of a workspace (including ones users created) with its icon and
colour, its records as a table whose columns are the schema's fields, and one record with its links."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.app import Deskbase
from deskbase.core.auth import audit_view, authorize
from deskbase.core.context import Actor
from deskbase.core.errors import InvalidFilter
from deskbase.web.http import ActorDep, Console, console, core_of, may, render, url
from deskbase.web.pages import CollectionCard, CollectionPage, CollectionsPage, LinkRow, RecordPage, RecordRow
from deskbase.web.queue import COUNT_LIMIT
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import make_shell

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 50
MAX_COLUMNS = 12
CELL_CHARS = 80
OPS = (
    ("eq", "equals"),
    ("search", "contains"),
    ("neq", "is not"),
    ("is_null", "is empty"),
    ("is_not_null", "is set"),
)


def card(ws: str, c: dict[str, Any], count: int) -> CollectionCard:
    props = (c.get("json_schema") or {}).get("properties") or {}
    return CollectionCard(
        id=c["id"],
        name=c.get("name") or c["id"],
        description=c.get("description") or "",
        icon=c.get("icon") or "",
        color=c.get("color") or "#64748b",
        count=count,
        href=f"/w/{quote(ws)}/collections/{quote(c['id'])}",
        fields=len(props),
    )


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, (dict, list)):
        text = orjson.dumps(value).decode()
    else:
        text = str(value)
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def record_counts(con: Console, ws: str) -> dict[str, int | None]:
    """Live records per collection, remembered until the workspace changes (see web/counts.py)."""
    core, counts = con.core, con.counts

    def count() -> dict[str, int | None]:
        futures = {
            c["id"]: counts.fanout.submit(core.records.count, ws, c["id"]) for c in core.collections.list(ws)
        }
        return {k: f.result() for k, f in futures.items()}

    return counts.get((ws, "\x00collections"), core.settled_seq(ws), count)


def name_links(core: Deskbase, ws: str, actor: Actor, links: list[LinkRow]) -> list[LinkRow]:
    """Label each linked record by its number and subject or name (`#1042 Login loop`) instead of an id's
    tail: one query per linked collection the viewer may read, never one per link."""
    wanted: dict[str, set[str]] = {}
    for link in links:
        wanted.setdefault(link.other_collection, set()).add(link.other_id)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for coll, ids in wanted.items():
        if may(actor, "read:records", ws, coll):
            cond = {"field": "id", "op": "in", "value": sorted(ids)}
            for r in core.records.query(ws, coll, cond, limit=len(ids))["data"]:
                found[(coll, r["id"])] = r

    def label(r: dict[str, Any]) -> str | None:
        d = r.get("data") or {}
        title = str(d.get("subject") or d.get("name") or d.get("title") or "")
        num = f"#{r['number']}" if r.get("number") is not None else ""
        return " ".join(x for x in (num, title) if x) or None

    return [
        replace(link, label=label(r)) if (r := found.get((link.other_collection, link.other_id))) else link
        for link in links
    ]


@router.get("/w/{ws}/collections", openapi_extra=requires("read:collections"))
def collections(ws: str, request: Request, actor: ActorDep) -> Response:
    authorize(actor, "read:collections", ws)
    core = core_of(request)
    counts = record_counts(console(request), ws)
    cards = [
        card(ws, c, (counts.get(c["id"]) or 0) if may(actor, "read:records", ws, c["id"]) else 0)
        for c in core.collections.list(ws)
        if may(actor, "read:collections", ws, c["id"])
    ]
    shell = make_shell(request, actor, "Collections", ws, "collections")
    return render(request, "collections.html", CollectionsPage(cards), shell)


@router.get("/w/{ws}/collections/{collection}", openapi_extra=requires("read:collections", "read:records"))
def collection(
    ws: str,
    collection: str,
    request: Request,
    actor: ActorDep,
    cursor: str | None = None,
    field: str = "",
    op: str = "eq",
    value: str = "",
) -> Response:
    authorize(actor, "read:collections", ws, collection)
    authorize(actor, "read:records", ws, collection)
    core = core_of(request)
    c = core.collections.get(ws, collection)
    columns = list(((c.get("json_schema") or {}).get("properties") or {}).keys())[:MAX_COLUMNS]
    condition, error = None, None
    op = op if op in dict(OPS) else "eq"
    if field:
        condition = (
            {"field": field, "op": op}
            if op in ("is_null", "is_not_null")
            else {"field": field, "op": op, "value": value}
        )
    sort = [{"field": "updated_at", "direction": "desc"}]
    capped = False
    try:
        res = core.records.query(ws, collection, condition, sort, PAGE_SIZE, cursor)
    except InvalidFilter as exc:
        error, condition = exc.message, None
        res = core.records.query(ws, collection, None, sort, PAGE_SIZE, None)
    if condition is None:
        count = record_counts(console(request), ws).get(collection) or 0
    else:
        count = core.records.count(ws, collection, condition, limit=COUNT_LIMIT + 1)
        count, capped = min(count, COUNT_LIMIT), count > COUNT_LIMIT
    base = f"/w/{quote(ws)}/collections/{quote(collection)}"
    params = {"field": field, "op": op if field else None, "value": value if field else None}
    rows = [
        RecordRow(
            r["id"],
            f"{base}/{quote(r['id'])}",
            [cell(r["data"].get(k)) for k in columns],
            r["updated_at"],
            r.get("number"),
        )
        for r in res["data"]
    ]
    page = CollectionPage(
        collection=card(ws, c, count),
        columns=columns,
        rows=rows,
        count=count,
        count_capped=capped,
        next_href=url(base, **params, cursor=res["next_cursor"])
        if res["next_cursor"] and not error
        else None,
        first_href=url(base, **params),
        filter_field=field,
        filter_op=op,
        filter_value=value,
        filter_error=error,
        ops=list(OPS),
        numbered=any(r.number is not None for r in rows),
    )
    return render(
        request,
        "collection.html",
        page,
        make_shell(request, actor, c.get("name") or collection, ws, "collections"),
    )


@router.get(
    "/w/{ws}/collections/{collection}/{rid}", openapi_extra=requires("read:collections", "read:records")
)
def record(ws: str, collection: str, rid: str, request: Request, actor: ActorDep) -> Response:
    authorize(actor, "read:collections", ws, collection)
    authorize(actor, "read:records", ws, collection)
    core = core_of(request)
    c = core.collections.get(ws, collection)
    r = core.records.get(ws, collection, rid)
    props = list(((c.get("json_schema") or {}).get("properties") or {}).keys())
    keys = props + [k for k in r["data"] if k not in props]
    links: list[LinkRow] = []
    if may(actor, "read:relationships", ws, collection):
        for link in core.relationships.of_record(ws, collection, rid, None, "both", 100, actor=actor)["data"]:
            outgoing = link["source"]["collection"] == collection and link["source"]["id"] == rid
            other = link["target"] if outgoing else link["source"]
            links.append(
                LinkRow(
                    link["id"],
                    link["rel_type"],
                    "outgoing" if outgoing else "incoming",
                    other["collection"],
                    other["id"],
                    f"/w/{quote(ws)}/collections/{quote(other['collection'])}/{quote(other['id'])}",
                )
            )
    links = name_links(core, ws, actor, links)
    history = audit_view(actor, core.records.history(ws, collection, rid, limit=50))
    page = RecordPage(
        collection=card(ws, c, 0),
        record=r,
        fields=[(k, cell(r["data"].get(k))) for k in keys],
        raw=orjson.dumps(r, option=orjson.OPT_INDENT_2).decode(),
        links=links,
        history=[
            {"seq": h["seq"], "op": h["op"], "at": h["at"], "actor": (h.get("actor") or {}).get("name")}
            for h in history
        ],
        ticket_href=f"/w/{quote(ws)}/tickets/{quote(rid)}" if collection == "tickets" else None,
    )
    return render(
        request, "record.html", page, make_shell(request, actor, f"{collection}/{rid}", ws, "collections")
    )

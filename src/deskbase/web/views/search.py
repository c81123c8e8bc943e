"""The console's search page (the header box submits here): the one search of support/finder.py, grouped by
collection, each hit a link with its number, status and customer; typing refreshes the results in place."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.auth import authorize
from deskbase.core.scope import ReadScope
from deskbase.support.finder import MAX_QUERY, Finder, Hit
from deskbase.support.tickets import customers_by_ticket
from deskbase.web.http import ActorDep, core_of, is_htmx, render
from deskbase.web.routing import ConsoleRoute
from deskbase.web.search_pages import SearchGroup, SearchHit, SearchPage
from deskbase.web.shell import make_shell

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def href_of(ws: str, hit: Hit) -> str:
    w = quote(ws)
    if hit.collection == "tickets":
        return f"/w/{w}/tickets/{quote(hit.id)}"
    if hit.collection == "customers":
        return f"/w/{w}/customers/{quote(hit.id)}"
    return f"/w/{w}/collections/{quote(hit.collection)}/{quote(hit.id)}"


def _customers(core: Any, scope: ReadScope, hits: list[Hit]) -> dict[str, str]:
    """Ticket id -> its customer's name (one indexed join), when the caller may read them."""
    found = customers_by_ticket(core, scope, [h.id for h in hits])
    return {tid: str(c["data"].get("name") or c["data"].get("email") or "") for tid, c in found.items()}


def _detail(hit: Hit, customer: str) -> str:
    d = hit.data
    if hit.collection == "tickets":
        return " · ".join(x for x in (customer, str(d.get("priority") or "")) if x)
    if hit.collection == "customers":
        return " · ".join(str(d[k]) for k in ("email", "company") if d.get(k))
    return hit.id


def search_page(core: Any, scope: ReadScope, q: str) -> SearchPage:
    q = q.strip()[:MAX_QUERY]
    names = {c["id"]: c.get("name") or c["id"] for c in core.collections.list(scope.workspace_id)}
    found = Finder(core).find(scope, q) if q else {}
    groups = []
    for cid, hits in sorted(found.items(), key=lambda kv: (min(h.rank for h in kv[1]), kv[0] != "tickets")):
        who = _customers(core, scope, hits) if cid == "tickets" else {}
        groups.append(
            SearchGroup(
                cid,
                names.get(cid, cid),
                [
                    SearchHit(
                        href_of(scope.workspace_id, h),
                        h.title,
                        h.number,
                        _detail(h, who.get(h.id, "")),
                        str(h.data.get("status") or "") if cid == "tickets" else "",
                        h.snippet,
                        ", ".join(h.matched),
                    )
                    for h in hits
                ],
            )
        )
    return SearchPage(q, groups, sum(len(g.hits) for g in groups))


@router.get("/w/{ws}/search", openapi_extra=requires("read:records"))
def search(ws: str, request: Request, actor: ActorDep, q: str = "") -> Response:
    authorize(actor, "read:records", ws)
    page = search_page(core_of(request), ReadScope(actor, ws), q)
    if is_htmx(request):  # the box refreshing its results
        return render(
            request, "search_results.html", page, make_shell(request, actor, "Search", ws, "search")
        )
    title = f"Search: {page.q}" if page.q else "Search"
    return render(request, "search.html", page, make_shell(request, actor, title, ws, "search"))

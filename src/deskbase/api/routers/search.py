"""One search over a workspace (the console's search box, as an API): tickets, customers and `x-search` fields."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from deskbase.api.deps import ActorDep, CoreDep, authorize, requires
from deskbase.core.scope import ReadScope
from deskbase.support.finder import MAX_QUERY, PER_KIND, Finder

router = APIRouter(prefix="/v1/workspaces/{ws}", tags=["support"])


@router.get("/search", openapi_extra=requires("read:records"))
def search(
    ws: str,
    core: CoreDep,
    actor: ActorDep,
    q: Annotated[
        str, Query(max_length=MAX_QUERY, description="A ticket number (`#1042`), an id, an email or words.")
    ],
    limit: Annotated[int, Query(ge=1, le=50, description="Results per collection.")] = PER_KIND,
) -> dict[str, Any]:
    """Records matching `q`, grouped by collection and ranked: exact number, id or value first, then every
    word matched as a word (the last may be a prefix), then substrings. Tickets match on their messages too.
    Only collections the token may read are searched."""
    authorize(actor, "read:records", ws)
    names = {c["id"]: c.get("name") or c["id"] for c in core.collections.list(ws)}
    found = Finder(core).find(ReadScope(actor, ws), q, limit)
    groups = [
        {"collection": cid, "name": names.get(cid, cid), "data": [h.public() for h in hits]}
        for cid, hits in found.items()
    ]
    groups.sort(key=lambda g: (min(h["rank"] for h in g["data"]), g["collection"] != "tickets"))
    return {"data": groups}

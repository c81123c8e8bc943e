"""The SQL endpoint (ClickHouse dialect over the workspace's replica), stored queries and replica admin."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from deskbase.analytics.service import Analytics
from deskbase.analytics.sql import iter_csv, iter_ndjson
from deskbase.api.deps import ActorDep, CoreDep, authorize
from deskbase.api.schemas import SqlBody, StoredQueryPut, StoredQueryRun
from deskbase.core.errors import Unavailable

router = APIRouter(tags=["sql"])


def get_analytics(request: Request) -> Analytics:
    analytics = getattr(request.app.state, "analytics", None)
    if analytics is None:
        raise Unavailable("the SQL replica is disabled on this server (DESKBASE_REPLICATE=false)")
    return analytics  # type: ignore[no-any-return]


AnalyticsDep = Annotated[Analytics, Depends(get_analytics)]


def _respond(result: dict[str, Any], fmt: str) -> Any:
    if fmt == "csv":
        return StreamingResponse(
            iter_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"X-Deskbase-Truncated": str(result["truncated"]).lower()},
        )
    if fmt == "ndjson":
        return StreamingResponse(
            iter_ndjson(result),
            media_type="application/x-ndjson",
            headers={"X-Deskbase-Truncated": str(result["truncated"]).lower()},
        )
    return result


@router.post("/v1/workspaces/{ws}/sql")
def run_sql(ws: str, body: SqlBody, analytics: AnalyticsDep, actor: ActorDep) -> Any:
    """Run a read-only ClickHouse SELECT over this workspace's tables; `{workspace_id:String}` is bound for you.

    The replica first catches up with every write already acknowledged for this workspace (read-your-writes).
    """
    authorize(actor, "sql", ws)
    return _respond(analytics.sql(ws, body.query, body.params), body.format)


@router.get("/v1/workspaces/{ws}/queries")
def list_queries(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "sql", ws)
    return {"data": core.stored_queries.list(ws)}


@router.put("/v1/workspaces/{ws}/queries/{name}")
def put_query(
    ws: str,
    name: str,
    body: StoredQueryPut,
    analytics: AnalyticsDep,
    core: CoreDep,
    actor: ActorDep,
    response: Response,
) -> dict[str, Any]:
    """Save a named, parameterised query (checked by the sandbox before it is stored)."""
    authorize(actor, "sql", ws)
    analytics.check(ws, body.query)
    out, created = core.stored_queries.put(ws, name, body.query, body.description, body.params or {}, actor)
    response.status_code = 201 if created else 200
    return out


@router.get("/v1/workspaces/{ws}/queries/{name}")
def get_query(ws: str, name: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "sql", ws)
    return core.stored_queries.get(ws, name)


@router.delete("/v1/workspaces/{ws}/queries/{name}", status_code=204)
def delete_query(ws: str, name: str, core: CoreDep, actor: ActorDep) -> Response:
    authorize(actor, "sql", ws)
    core.stored_queries.delete(ws, name, actor)
    return Response(status_code=204)


@router.post("/v1/workspaces/{ws}/queries/{name}/run")
def run_query(
    ws: str, name: str, body: StoredQueryRun, analytics: AnalyticsDep, core: CoreDep, actor: ActorDep
) -> Any:
    """Run a stored query by name; `params` override its saved defaults."""
    authorize(actor, "sql", ws)
    stored = core.stored_queries.get(ws, name)
    params = {**stored["params"], **(body.params or {})}
    return _respond(analytics.sql(ws, stored["query"], params), body.format)


@router.post("/v1/admin/analytics/rebuild", tags=["admin"])
def rebuild(analytics: AnalyticsDep, actor: ActorDep) -> dict[str, Any]:
    """Drop the replica and replay it from the primary store."""
    authorize(actor, "admin")
    replayed = analytics.replica.rebuild()
    return {"replayed_changes": replayed, "watermark": analytics.replica.watermark}


@router.get("/v1/admin/analytics/verify", tags=["admin"])
def verify(analytics: AnalyticsDep, actor: ActorDep) -> dict[str, Any]:
    """Compare live counts and max versions per collection and relationship type; `ok` is false on any gap."""
    authorize(actor, "admin")
    analytics.replica.catch_up()
    diffs = analytics.replica.verify()
    return {"ok": not diffs, "differences": diffs, "watermark": analytics.replica.watermark}

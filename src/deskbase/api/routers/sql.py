"""The SQL endpoint (ClickHouse dialect over the workspace's replica), stored queries and replica admin.

SQL reads the whole workspace, so it needs `sql` and `read:records` in a grant without collection limits
(a collection-scoped token could otherwise read every collection through SQL); tables beyond records need
their own permission (see `TABLE_PERMISSIONS`). Every route authorises before it touches the replica.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from deskbase.analytics.service import Analytics
from deskbase.analytics.sql import iter_csv, iter_ndjson
from deskbase.api.deps import ActorDep, CoreDep, authorize, permits, requires
from deskbase.api.schemas import SqlBody, StoredQueryPut, StoredQueryRun
from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.errors import Unavailable

router = APIRouter(tags=["sql"])


def get_analytics(request: Request) -> Analytics:
    """Called after authorisation, so a caller without rights never learns whether the replica is up."""
    core: Deskbase = request.app.state.core
    analytics = core.extensions.get(Analytics)
    if analytics is None:
        raise Unavailable("the SQL replica is disabled on this server (DESKBASE_REPLICATE=false)")
    return analytics


def authorize_sql(actor: Actor, ws: str) -> None:
    authorize(actor, "sql", ws, whole_workspace=True)
    authorize(actor, "read:records", ws, whole_workspace=True)


def _may(actor: Actor, ws: str) -> Any:
    return lambda perm: permits(actor, perm, ws, whole_workspace=True)


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


@router.post("/v1/workspaces/{ws}/sql", openapi_extra=requires("sql", "read:records"))
def run_sql(ws: str, body: SqlBody, request: Request, actor: ActorDep) -> Any:
    """Run a read-only ClickHouse SELECT over this workspace's tables; `{workspace_id:String}` is bound for you.

    The replica first catches up with every write already acknowledged for this workspace (read-your-writes).
    Needs `sql` and `read:records` over the whole workspace; `relationships` also needs `read:relationships`,
    `collections`/`relationship_types` `read:collections`, and `operations_log` `read:audit`.
    Limits (docs/sql.md): 504 at the time limit, 413 past `sql_max_result_bytes`, 429 over the caps on queries
    running at once per token, per workspace and per server.
    """
    authorize_sql(actor, ws)
    result = get_analytics(request).sql(ws, body.query, body.params, may=_may(actor, ws), caller=actor.id)
    return _respond(result, body.format)


@router.get("/v1/workspaces/{ws}/queries", openapi_extra=requires("sql"))
def list_queries(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "sql", ws, whole_workspace=True)
    return {"data": core.stored_queries.list(ws)}


@router.put("/v1/workspaces/{ws}/queries/{name}", openapi_extra=requires("sql", "write:collections"))
def put_query(
    ws: str,
    name: str,
    body: StoredQueryPut,
    request: Request,
    core: CoreDep,
    actor: ActorDep,
    response: Response,
) -> dict[str, Any]:
    """Save a named, parameterised query (checked by the sandbox before it is stored). Stored queries are
    workspace definitions, like collections: saving or deleting one also needs `write:collections`."""
    authorize(actor, "sql", ws, whole_workspace=True)
    authorize(actor, "write:collections", ws, whole_workspace=True)
    get_analytics(request).check(ws, body.query)
    out, created = core.stored_queries.put(ws, name, body.query, body.description, body.params or {}, actor)
    response.status_code = 201 if created else 200
    return out


@router.get("/v1/workspaces/{ws}/queries/{name}", openapi_extra=requires("sql"))
def get_query(ws: str, name: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "sql", ws, whole_workspace=True)
    return core.stored_queries.get(ws, name)


@router.delete(
    "/v1/workspaces/{ws}/queries/{name}", status_code=204, openapi_extra=requires("sql", "write:collections")
)
def delete_query(ws: str, name: str, core: CoreDep, actor: ActorDep) -> Response:
    authorize(actor, "sql", ws, whole_workspace=True)
    authorize(actor, "write:collections", ws, whole_workspace=True)
    core.stored_queries.delete(ws, name, actor)
    return Response(status_code=204)


@router.post("/v1/workspaces/{ws}/queries/{name}/run", openapi_extra=requires("sql", "read:records"))
def run_query(
    ws: str, name: str, body: StoredQueryRun, request: Request, core: CoreDep, actor: ActorDep
) -> Any:
    """Run a stored query by name; `params` override its saved defaults. Permissions as for `/sql`."""
    authorize_sql(actor, ws)
    stored = core.stored_queries.get(ws, name)
    params = {**stored["params"], **(body.params or {})}
    result = get_analytics(request).sql(ws, stored["query"], params, may=_may(actor, ws), caller=actor.id)
    return _respond(result, body.format)


@router.post("/v1/admin/analytics/rebuild", tags=["admin"], openapi_extra=requires("admin"))
def rebuild(request: Request, actor: ActorDep) -> dict[str, Any]:
    """Drop the replica and replay it from the primary store (server admins only)."""
    authorize(actor, "admin")
    analytics = get_analytics(request)
    replayed = analytics.replica.rebuild()
    return {"replayed_changes": replayed, "watermark": analytics.replica.watermark}


@router.get("/v1/admin/analytics/verify", tags=["admin"], openapi_extra=requires("admin"))
def verify(request: Request, actor: ActorDep) -> dict[str, Any]:
    """Compare live counts and max versions per collection and relationship type; `ok` is false on any gap."""
    authorize(actor, "admin")
    analytics = get_analytics(request)
    analytics.replica.catch_up()
    diffs = analytics.replica.verify()
    return {"ok": not diffs, "differences": diffs, "watermark": analytics.replica.watermark}

"""SQL and SLA tools: the sandboxed SQL endpoint, stored queries, at-risk clocks and what-if simulation —
with the checks of `api/routers/sql.py` and `api/routers/sla.py`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import Field

from deskbase.analytics.service import Analytics
from deskbase.api.deps import when
from deskbase.api.routers.sla import parse_duration
from deskbase.api.routers.sql import authorize_sql
from deskbase.api.schemas import SimulateBody, SqlBody, StoredQueryRun
from deskbase.core.auth import authorize, permits
from deskbase.core.errors import BadRequest, Unavailable
from deskbase.mcp.calls import Caller
from deskbase.mcp.tool import MAX_PAGE, Args, Need, Tool, derive
from deskbase.support.service import SlaService

#: Rows one SQL call returns at most (the server's own cap may be lower); `truncated` says when more matched.
MAX_ROWS = 1000
ROWS_FIELD = (int, Field(200, ge=1, le=MAX_ROWS, description=f"Rows to return at most (1-{MAX_ROWS})."))
SQL_NEEDS = (Need("sql", whole_workspace=True), Need("read:records", whole_workspace=True))


def _analytics(caller: Caller) -> Analytics:
    """Looked up after authorisation, so a caller without rights never learns whether the replica is up."""
    found = caller.core.extensions.get(Analytics)
    if found is None:
        raise Unavailable("the SQL replica is disabled on this server (DESKBASE_REPLICATE=false)")
    return found


def _sql(caller: Caller, ws: str, query: str, params: dict[str, Any] | None, rows: int) -> dict[str, Any]:
    analytics = _analytics(caller)
    limits = analytics.limits()
    limits = replace(limits, max_result_rows=min(rows, limits.max_result_rows))
    actor = caller.actor
    return analytics.sql(
        ws,
        query,
        params,
        limits=limits,
        may=lambda perm: permits(actor, perm, ws, whole_workspace=True),
        caller=actor.id,
    )


RunSql = derive("RunSql", SqlBody, exclude=("format",), max_rows=ROWS_FIELD)


def run_sql(caller: Caller, args: Any) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize_sql(caller.actor, ws)
    return _sql(caller, ws, args.query, args.params, args.max_rows)


class ListQueries(Args):
    pass


def list_queries(caller: Caller, args: ListQueries) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize(caller.actor, "sql", ws, whole_workspace=True)
    return {"queries": caller.core.stored_queries.list(ws)}


RunQuery = derive(
    "RunQuery",
    StoredQueryRun,
    exclude=("format",),
    name=(str, Field(max_length=63, description="The stored query's name (list_queries).")),
    max_rows=ROWS_FIELD,
)


def run_query(caller: Caller, args: Any) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize_sql(caller.actor, ws)
    stored = caller.core.stored_queries.get(ws, args.name)
    params = {**stored["params"], **(args.params or {})}
    return _sql(caller, ws, stored["query"], params, args.max_rows)


def _sla(caller: Caller) -> SlaService:
    sla = caller.core.extensions.get(SlaService)
    if sla is None:
        raise Unavailable("the SLA service is not installed on this server")
    return sla


class SlaAtRisk(Args):
    within: str = Field(
        "2h", pattern=r"^\s*\d+[smhd]\s*$", description="Due within this long: 90s, 45m, 2h or 3d."
    )
    limit: int = Field(25, ge=1, le=MAX_PAGE, description=f"Clocks to return (1-{MAX_PAGE}).")


def sla_at_risk(caller: Caller, args: SlaAtRisk) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize(caller.actor, "read:records", ws, "tickets")
    sla = _sla(caller)
    caller.core.workspaces.get(ws)
    clocks = sla.at_risk(ws, parse_duration(args.within), args.limit)
    ids = sorted({c["ticket_id"] for c in clocks})
    found = (
        caller.core.records.query(ws, "tickets", {"field": "id", "op": "in", "value": ids}, limit=len(ids))
        if ids
        else {"data": []}
    )
    tickets = {t["id"]: t for t in found["data"]}
    out = []
    for c in clocks:
        t = tickets.get(c["ticket_id"]) or {}
        d = t.get("data") or {}
        out.append(
            {"ticket_id": c["ticket_id"], "number": t.get("number"), "subject": d.get("subject")}
            | {k: c.get(k) for k in ("metric", "state", "priority", "target_at", "business", "paused")}
        )
    return {"clocks": out}


SlaSimulate = derive("SlaSimulate", SimulateBody)


def sla_simulate(caller: Caller, args: Any) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize(caller.actor, "read:records", ws, "tickets")
    sla = _sla(caller)
    start, end = when(args.start, "start"), when(args.end, "end")
    assert start is not None and end is not None
    if end <= start:
        raise BadRequest("end must be after start", {"start": args.start, "end": args.end})
    return sla.simulate(ws, args.policy, start, end, args.limit)


TOOLS = (
    Tool(
        "run_sql",
        "Run SQL",
        "Run one read-only ClickHouse SELECT over the workspace's analytics replica (tables records, "
        "relationships, sla_instances, sla_events, ticket_metrics …; read typed JSON subcolumns like "
        "data.status.:String). `{workspace_id:String}` is bound for you; pass other {name:Type} parameters in "
        "params. Returns meta (columns), data (rows), rows, truncated. Needs the sql permission.",
        RunSql,
        run_sql,
        SQL_NEEDS,
        read_only=True,
    ),
    Tool(
        "list_queries",
        "List stored queries",
        "The workspace's saved SQL queries: name, description, query text and parameter defaults.",
        ListQueries,
        list_queries,
        (Need("sql", whole_workspace=True),),
        read_only=True,
    ),
    Tool(
        "run_query",
        "Run a stored query",
        "Run a saved SQL query by name; params override its defaults. Returns rows as run_sql does.",
        RunQuery,
        run_query,
        SQL_NEEDS,
        read_only=True,
    ),
    Tool(
        "sla_at_risk",
        "SLA clocks at risk",
        "Running SLA clocks due within a time (breached ones first), most urgent first, with the ticket's "
        "number and subject: what to work on next.",
        SlaAtRisk,
        sla_at_risk,
        (Need("read:records", "tickets"),),
        read_only=True,
    ),
    Tool(
        "sla_simulate",
        "Simulate an SLA policy",
        "What-if: attainment by metric and priority of a candidate SLA policy over tickets created in "
        "[start, end), beside the active policies. Changes nothing.",
        SlaSimulate,
        sla_simulate,
        (Need("read:records", "tickets"),),
        read_only=True,
    ),
)

"""The support domain's derived tables in the SQL replica: `sla_instances`, `sla_events`, `ticket_metrics`.

Rows are versioned by the change that produced them, so the replicator copies exactly the rows whose version
falls in the batch of changes it just applied (index on `version`), and ReplacingMergeTree keeps the latest.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.engine import Connection

from deskbase.analytics.replica import TS, DerivedTable, ts_text
from deskbase.support import tables as ts


def _j(value: Any) -> str:
    return orjson.dumps(value).decode()


def _instances(conn: Connection, lo: int, hi: int) -> dict[str, list[dict[str, Any]]]:
    si = ts.sla_instances
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(select(si).where(si.c.version > lo, si.c.version <= hi)):
        d = r.data or {}
        out[r.workspace_id].append(
            {
                "workspace_id": r.workspace_id,
                "ticket_id": r.ticket_id,
                "metric": r.metric,
                "cycle": r.cycle,
                "restarts": r.restarts,
                "state": r.state,
                "running": bool(r.running),
                "priority": d.get("priority"),
                "policy_id": d.get("policy_id"),
                "policy_version": d.get("policy_version"),
                "business": d.get("business"),
                "started_at": ts_text(d.get("started_at")),
                "target_at": ts_text(d.get("target_at")),
                "completed_at": ts_text(d.get("completed_at")),
                "breached_at": ts_text(d.get("breached_at")),
                "target_seconds": d.get("target_seconds"),
                "elapsed_business_seconds": d.get("elapsed_business_seconds"),
                "elapsed_calendar_seconds": d.get("elapsed_calendar_seconds"),
                "paused": d.get("paused"),
                "deleted": bool(r.deleted),
                "version": r.version,
            }
        )
    return out


def _events(conn: Connection, lo: int, hi: int) -> dict[str, list[dict[str, Any]]]:
    se = ts.sla_events
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(select(se).where(se.c.version > lo, se.c.version <= hi)):
        out[r.workspace_id].append(
            {
                "workspace_id": r.workspace_id,
                "ticket_id": r.ticket_id,
                "event_key": r.event_key,
                "metric": r.metric,
                "cycle": r.cycle,
                "kind": r.kind,
                "at": ts_text(r.at),
                "details": _j(r.details),
                "deleted": bool(r.deleted),
                "version": r.version,
            }
        )
    return out


def _metrics(conn: Connection, lo: int, hi: int) -> dict[str, list[dict[str, Any]]]:
    st = ts.sla_tickets
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(select(st).where(st.c.version > lo, st.c.version <= hi)):
        m = r.metrics or {}
        out[r.workspace_id].append(
            {
                "workspace_id": r.workspace_id,
                "ticket_id": r.ticket_id,
                "policy_id": r.policy_id,
                "running_clocks": r.running,
                "breached_clocks": r.breached,
                "sla_due_at": ts_text(r.due_at),
                "first_response_at": ts_text(m.get("first_response_at")),
                "first_response_seconds_calendar": m.get("first_response_seconds_calendar"),
                "first_response_seconds_business": m.get("first_response_seconds_business"),
                "agent_replies": m.get("agent_replies", 0),
                "customer_replies": m.get("customer_replies", 0),
                "internal_notes": m.get("internal_notes", 0),
                "awaiting": m.get("awaiting"),
                "reopens": m.get("reopens", 0),
                "first_resolved_at": ts_text(m.get("first_resolved_at")),
                "resolved_at": ts_text(m.get("resolved_at")),
                "full_resolution_seconds_business": m.get("full_resolution_seconds_business"),
                "requester_wait_seconds": m.get("requester_wait_seconds", 0),
                "one_touch": bool(m.get("one_touch")),
                "metrics": _j(m),
                "version": r.version,
            }
        )
    return out


NTS = f"Nullable({TS})"
DERIVED = (
    DerivedTable(
        "sla_instances",
        f"""(workspace_id String, ticket_id String, metric LowCardinality(String), cycle UInt32, restarts UInt32,
        state LowCardinality(String), running Bool, priority LowCardinality(Nullable(String)),
        policy_id Nullable(String), policy_version Nullable(UInt64), business Nullable(Bool), started_at {NTS},
        target_at {NTS}, completed_at {NTS}, breached_at {NTS}, target_seconds Nullable(Int64),
        elapsed_business_seconds Nullable(Int64), elapsed_calendar_seconds Nullable(Int64), paused Nullable(Bool),
        deleted Bool, version UInt64
        ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, ticket_id, metric, cycle, restarts)""",
        pa.schema(
            [
                ("workspace_id", pa.string()),
                ("ticket_id", pa.string()),
                ("metric", pa.string()),
                ("cycle", pa.uint32()),
                ("restarts", pa.uint32()),
                ("state", pa.string()),
                ("running", pa.bool_()),
                ("priority", pa.string()),
                ("policy_id", pa.string()),
                ("policy_version", pa.uint64()),
                ("business", pa.bool_()),
                ("started_at", pa.string()),
                ("target_at", pa.string()),
                ("completed_at", pa.string()),
                ("breached_at", pa.string()),
                ("target_seconds", pa.int64()),
                ("elapsed_business_seconds", pa.int64()),
                ("elapsed_calendar_seconds", pa.int64()),
                ("paused", pa.bool_()),
                ("deleted", pa.bool_()),
                ("version", pa.uint64()),
            ]
        ),
        _instances,
    ),
    DerivedTable(
        "sla_events",
        f"""(workspace_id String, ticket_id String, event_key String, metric LowCardinality(String), cycle UInt32,
        kind LowCardinality(String), at {TS}, details String, deleted Bool, version UInt64
        ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, ticket_id, event_key)""",
        pa.schema(
            [
                ("workspace_id", pa.string()),
                ("ticket_id", pa.string()),
                ("event_key", pa.string()),
                ("metric", pa.string()),
                ("cycle", pa.uint32()),
                ("kind", pa.string()),
                ("at", pa.string()),
                ("details", pa.string()),
                ("deleted", pa.bool_()),
                ("version", pa.uint64()),
            ]
        ),
        _events,
    ),
    DerivedTable(
        "ticket_metrics",
        f"""(workspace_id String, ticket_id String, policy_id Nullable(String), running_clocks UInt32,
        breached_clocks UInt32, sla_due_at {NTS}, first_response_at {NTS},
        first_response_seconds_calendar Nullable(Int64), first_response_seconds_business Nullable(Int64),
        agent_replies UInt32, customer_replies UInt32, internal_notes UInt32, awaiting LowCardinality(Nullable(String)),
        reopens UInt32, first_resolved_at {NTS}, resolved_at {NTS}, full_resolution_seconds_business Nullable(Int64),
        requester_wait_seconds Int64, one_touch Bool, metrics String, version UInt64
        ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, ticket_id)""",
        pa.schema(
            [
                ("workspace_id", pa.string()),
                ("ticket_id", pa.string()),
                ("policy_id", pa.string()),
                ("running_clocks", pa.uint32()),
                ("breached_clocks", pa.uint32()),
                ("sla_due_at", pa.string()),
                ("first_response_at", pa.string()),
                ("first_response_seconds_calendar", pa.int64()),
                ("first_response_seconds_business", pa.int64()),
                ("agent_replies", pa.uint32()),
                ("customer_replies", pa.uint32()),
                ("internal_notes", pa.uint32()),
                ("awaiting", pa.string()),
                ("reopens", pa.uint32()),
                ("first_resolved_at", pa.string()),
                ("resolved_at", pa.string()),
                ("full_resolution_seconds_business", pa.int64()),
                ("requester_wait_seconds", pa.int64()),
                ("one_touch", pa.bool_()),
                ("metrics", pa.string()),
                ("version", pa.uint64()),
            ]
        ),
        _metrics,
    ),
)

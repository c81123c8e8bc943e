"""The support domain's derived tables in the SQL replica: `sla_instances`, `sla_events`, `ticket_metrics`.

Rows are versioned by the change that produced them, so the replicator copies exactly the rows whose version
falls in the batch of changes it just applied (index on `version`), and ReplacingMergeTree keeps the latest.
They are read raw (JSON as text) and typed by the ClickHouse expressions below.
"""

from __future__ import annotations

from deskbase.analytics import raw
from deskbase.analytics.derived import DerivedTable
from deskbase.analytics.raw import field, field_bool, field_instant, instant
from deskbase.analytics.replica_tables import NTS, TS
from deskbase.support import tables as ts

_si, _se, _st = ts.sla_instances.c, ts.sla_events.c, ts.sla_tickets.c

INSTANCES = DerivedTable(
    "sla_instances",
    f"""(workspace_id String, ticket_id String, metric LowCardinality(String), cycle UInt32, restarts UInt32,
    state LowCardinality(String), running Bool, priority LowCardinality(Nullable(String)),
    policy_id Nullable(String), policy_version Nullable(UInt64), business Nullable(Bool), started_at {NTS},
    target_at {NTS}, completed_at {NTS}, breached_at {NTS}, target_seconds Nullable(Int64),
    elapsed_business_seconds Nullable(Int64), elapsed_calendar_seconds Nullable(Int64), paused Nullable(Bool),
    deleted Bool, version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, ticket_id, metric, cycle, restarts)""",
    ts.sla_instances,
    (
        raw.text(_si.workspace_id),
        raw.text(_si.ticket_id),
        raw.text(_si.metric),
        raw.integer(_si.cycle),
        raw.integer(_si.restarts),
        raw.text(_si.state),
        raw.flag(_si.running),
        raw.as_text(_si.data, default="{}"),
        raw.flag(_si.deleted),
        raw.integer(_si.version),
    ),
    {
        "workspace_id": "workspace_id",
        "ticket_id": "ticket_id",
        "metric": "metric",
        "cycle": "cycle",
        "restarts": "restarts",
        "state": "state",
        "running": "running != 0",
        "priority": field("data", "priority", "Nullable(String)"),
        "policy_id": field("data", "policy_id", "Nullable(String)"),
        "policy_version": field("data", "policy_version", "Nullable(UInt64)"),
        "business": field("data", "business", "Nullable(Bool)"),
        "started_at": field_instant("data", "started_at"),
        "target_at": field_instant("data", "target_at"),
        "completed_at": field_instant("data", "completed_at"),
        "breached_at": field_instant("data", "breached_at"),
        "target_seconds": field("data", "target_seconds", "Nullable(Int64)"),
        "elapsed_business_seconds": field("data", "elapsed_business_seconds", "Nullable(Int64)"),
        "elapsed_calendar_seconds": field("data", "elapsed_calendar_seconds", "Nullable(Int64)"),
        "paused": field("data", "paused", "Nullable(Bool)"),
        "deleted": "deleted != 0",
        "version": "version",
    },
)

EVENTS = DerivedTable(
    "sla_events",
    f"""(workspace_id String, ticket_id String, event_key String, metric LowCardinality(String), cycle UInt32,
    kind LowCardinality(String), at {TS}, details String, deleted Bool, version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, ticket_id, event_key)""",
    ts.sla_events,
    (
        raw.text(_se.workspace_id),
        raw.text(_se.ticket_id),
        raw.text(_se.event_key),
        raw.text(_se.metric),
        raw.integer(_se.cycle),
        raw.text(_se.kind),
        raw.as_text(_se.at),
        raw.as_text(_se.details, default="{}"),
        raw.flag(_se.deleted),
        raw.integer(_se.version),
    ),
    {
        "workspace_id": "workspace_id",
        "ticket_id": "ticket_id",
        "event_key": "event_key",
        "metric": "metric",
        "cycle": "cycle",
        "kind": "kind",
        "at": instant("at"),
        "details": "details",
        "deleted": "deleted != 0",
        "version": "version",
    },
)

METRICS = DerivedTable(
    "ticket_metrics",
    f"""(workspace_id String, ticket_id String, policy_id Nullable(String), running_clocks UInt32,
    breached_clocks UInt32, sla_due_at {NTS}, first_response_at {NTS},
    first_response_seconds_calendar Nullable(Int64), first_response_seconds_business Nullable(Int64),
    agent_replies UInt32, customer_replies UInt32, internal_notes UInt32, awaiting LowCardinality(Nullable(String)),
    reopens UInt32, first_resolved_at {NTS}, resolved_at {NTS}, full_resolution_seconds_business Nullable(Int64),
    requester_wait_seconds Int64, one_touch Bool, metrics String, version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, ticket_id)""",
    ts.sla_tickets,
    (
        raw.text(_st.workspace_id),
        raw.text(_st.ticket_id),
        raw.text(_st.policy_id),
        raw.integer(_st.running),
        raw.integer(_st.breached),
        raw.as_text(_st.due_at),
        raw.as_text(_st.metrics, default="{}"),
        raw.integer(_st.version),
    ),
    {
        "workspace_id": "workspace_id",
        "ticket_id": "ticket_id",
        "policy_id": "policy_id",
        "running_clocks": "running",
        "breached_clocks": "breached",
        "sla_due_at": instant("due_at"),
        "first_response_at": field_instant("metrics", "first_response_at"),
        "first_response_seconds_calendar": field(
            "metrics", "first_response_seconds_calendar", "Nullable(Int64)"
        ),
        "first_response_seconds_business": field(
            "metrics", "first_response_seconds_business", "Nullable(Int64)"
        ),
        "agent_replies": field("metrics", "agent_replies", "UInt32"),
        "customer_replies": field("metrics", "customer_replies", "UInt32"),
        "internal_notes": field("metrics", "internal_notes", "UInt32"),
        "awaiting": field("metrics", "awaiting", "Nullable(String)"),
        "reopens": field("metrics", "reopens", "UInt32"),
        "first_resolved_at": field_instant("metrics", "first_resolved_at"),
        "resolved_at": field_instant("metrics", "resolved_at"),
        "full_resolution_seconds_business": field(
            "metrics", "full_resolution_seconds_business", "Nullable(Int64)"
        ),
        "requester_wait_seconds": field("metrics", "requester_wait_seconds", "Int64"),
        "one_touch": field_bool("metrics", "one_touch"),
        "metrics": "metrics",
        "version": "version",
    },
)

DERIVED = (INSTANCES, EVENTS, METRICS)

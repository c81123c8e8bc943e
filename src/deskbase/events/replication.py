"""`webhook_deliveries` in the SQL replica: delivery metadata for reporting (never payloads or responses).

A delivery row is versioned with a change-log seq drawn when it is written (`deliveries.next_version`), so
the replicator copies it together with the first change after it, once no transaction below that seq can
still commit (core/horizon.py): SQL sees delivery state as of the latest write to the store.
"""

from __future__ import annotations

from deskbase.analytics import raw
from deskbase.analytics.derived import DerivedTable
from deskbase.analytics.raw import instant
from deskbase.analytics.replica_tables import NTS, TS
from deskbase.events.tables import webhook_deliveries

_d = webhook_deliveries.c
_TEXT = ("workspace_id", "id", "trigger_id", "event_id", "event_type", "status", "origin", "last_error")
_INTEGER = ("seq", "attempts", "last_status", "version")
_INSTANTS = ("created_at", "updated_at", "delivered_at", "next_attempt_at")

DELIVERIES = DerivedTable(
    "webhook_deliveries",
    f"""(workspace_id String, id String, trigger_id String, event_id String, event_type LowCardinality(String),
    seq UInt64, status LowCardinality(String), origin LowCardinality(String), attempts UInt32,
    last_status Nullable(UInt16), last_error Nullable(String), created_at {TS}, updated_at {TS},
    delivered_at {NTS}, next_attempt_at {NTS}, version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, trigger_id, id)""",
    webhook_deliveries,
    (
        *(raw.text(_d[name]) for name in _TEXT),
        *(raw.integer(_d[name]) for name in _INTEGER),
        *(raw.as_text(_d[name]) for name in _INSTANTS),
    ),
    {
        **{name: name for name in (*_TEXT, *_INTEGER)},
        **{name: instant(name) for name in _INSTANTS},
    },
)

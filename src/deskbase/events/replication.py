"""`webhook_deliveries` in the SQL replica: delivery metadata for reporting (never payloads or responses).

A delivery row is versioned one above the last change when it is written (`deliveries.next_version`), and
written under the store's write lock, so the replicator copies it together with the first change after it:
SQL sees delivery state as of the latest write to the store.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.engine import Connection

from deskbase.analytics.replica import TS, DerivedTable, ts_text
from deskbase.events.tables import webhook_deliveries


def _rows(conn: Connection, lo: int, hi: int) -> dict[str, list[dict[str, Any]]]:
    d = webhook_deliveries
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    cols = [c for c in d.c if c.name not in ("payload", "dedupe_key")]
    for r in conn.execute(select(*cols).where(d.c.version > lo, d.c.version <= hi)):
        out[r.workspace_id].append(
            {
                "workspace_id": r.workspace_id,
                "id": r.id,
                "trigger_id": r.trigger_id,
                "event_id": r.event_id,
                "event_type": r.event_type,
                "seq": r.seq,
                "status": r.status,
                "origin": r.origin,
                "attempts": r.attempts,
                "last_status": r.last_status,
                "last_error": r.last_error,
                "created_at": ts_text(r.created_at),
                "updated_at": ts_text(r.updated_at),
                "delivered_at": ts_text(r.delivered_at),
                "next_attempt_at": ts_text(r.next_attempt_at),
                "version": r.version,
            }
        )
    return out


NTS = f"Nullable({TS})"
DELIVERIES = DerivedTable(
    "webhook_deliveries",
    f"""(workspace_id String, id String, trigger_id String, event_id String, event_type LowCardinality(String),
    seq UInt64, status LowCardinality(String), origin LowCardinality(String), attempts UInt32,
    last_status Nullable(UInt16), last_error Nullable(String), created_at {TS}, updated_at {TS},
    delivered_at {NTS}, next_attempt_at {NTS}, version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, trigger_id, id)""",
    pa.schema(
        [
            ("workspace_id", pa.string()),
            ("id", pa.string()),
            ("trigger_id", pa.string()),
            ("event_id", pa.string()),
            ("event_type", pa.string()),
            ("seq", pa.uint64()),
            ("status", pa.string()),
            ("origin", pa.string()),
            ("attempts", pa.uint32()),
            ("last_status", pa.uint16()),
            ("last_error", pa.string()),
            ("created_at", pa.string()),
            ("updated_at", pa.string()),
            ("delivered_at", pa.string()),
            ("next_attempt_at", pa.string()),
            ("version", pa.uint64()),
        ]
    ),
    _rows,
)

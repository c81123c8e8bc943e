"""`files` in the SQL replica: upload metadata for reporting (names, types, sizes, digests — never bytes).

A file row is versioned by the change that wrote it (its upload or deletion), so the replicator copies it
with the batch holding that change, and SQL sees a file exactly when the change log does.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.engine import Connection

from deskbase.analytics.replica import TS, DerivedTable, ts_text
from deskbase.core.tables import files


def _rows(conn: Connection, lo: int, hi: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(select(files).where(files.c.version > lo, files.c.version <= hi)):
        out[r.workspace_id].append(
            {
                "workspace_id": r.workspace_id,
                "id": r.id,
                "name": r.name,
                "content_type": r.content_type,
                "size": r.size,
                "sha256": r.sha256,
                "deleted": r.deleted,
                "created_at": ts_text(r.created_at),
                "created_by": r.created_by,
                "version": r.version,
            }
        )
    return out


FILES = DerivedTable(
    "files",
    f"""(workspace_id String, id String, name String, content_type LowCardinality(String), size UInt64,
    sha256 String, deleted Bool, created_at {TS}, created_by Nullable(String), version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, id)""",
    pa.schema(
        [
            ("workspace_id", pa.string()),
            ("id", pa.string()),
            ("name", pa.string()),
            ("content_type", pa.string()),
            ("size", pa.uint64()),
            ("sha256", pa.string()),
            ("deleted", pa.bool_()),
            ("created_at", pa.string()),
            ("created_by", pa.string()),
            ("version", pa.uint64()),
        ]
    ),
    _rows,
)

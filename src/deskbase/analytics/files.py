"""`files` in the SQL replica: upload metadata for reporting (names, types, sizes, digests — never bytes).

A file row is versioned by the change that wrote it (its upload or deletion), so the replicator copies it
with the batch holding that change, and SQL sees a file exactly when the change log does. Rows go to
ClickHouse raw and are typed there (see raw.py).
"""

from __future__ import annotations

from deskbase.analytics import raw
from deskbase.analytics.derived import DerivedTable
from deskbase.analytics.raw import instant
from deskbase.analytics.replica_tables import TS
from deskbase.core.tables import files

_f = files.c
_TEXT = ("workspace_id", "id", "name", "content_type", "sha256", "created_by")
_INTEGER = ("size", "version")

FILES = DerivedTable(
    "files",
    f"""(workspace_id String, id String, name String, content_type LowCardinality(String), size UInt64,
    sha256 String, deleted Bool, created_at {TS}, created_by Nullable(String), version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, id)""",
    files,
    (
        *(raw.text(_f[name]) for name in _TEXT),
        *(raw.integer(_f[name]) for name in _INTEGER),
        raw.flag(_f.deleted),
        raw.as_text(_f.created_at),
    ),
    {
        **{name: name for name in (*_TEXT, *_INTEGER)},
        "deleted": "deleted != 0",
        "created_at": instant("created_at"),
    },
)

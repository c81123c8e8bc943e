"""The one chDB engine of the test process, and the sandbox fixture workspaces sandbox_a / sandbox_b.

chDB can open ONE data path per process (a second path fails until every connection is closed), so every
test module that needs chDB must get its engine from ``shared_engine`` — never construct its own
ChdbEngine — and must import this module as ``tests.analytics._chdb`` (a second import path would be a
second module, a second singleton and a second data path). The sandbox databases deliberately avoid the
replica's ``ws_`` namespace, which the replica drops when it resets.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pyarrow as pa
import pytest

from deskbase.analytics.chdb_engine import ChdbEngine

_lock = threading.Lock()
_engine: ChdbEngine | None = None
_seeded = False

WORKSPACE_A = ("sandbox_a", "a")
WORKSPACE_B = ("sandbox_b", "b")
ALLOWED_TABLES = frozenset(
    {"records", "relationships", "collections", "relationship_types", "operations_log"}
)
OPERATIONS_ROWS = 3000  # enough for a three-way self join to outlive a 1 s limit by orders of magnitude


def shared_engine(tmp_path_factory: pytest.TempPathFactory) -> ChdbEngine:
    """The process-wide engine, created on first use under a session temp dir and never reopened."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = ChdbEngine(str(tmp_path_factory.mktemp("chdb")))
        return _engine


_DDL = (
    """CREATE TABLE IF NOT EXISTS {db}.records (
        workspace_id String, collection LowCardinality(String), id String, data JSON, version UInt64,
        deleted Bool, created_at DateTime64(3, 'UTC'), updated_at DateTime64(3, 'UTC'),
        external_id Nullable(String), external_source Nullable(String))
    ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, collection, id)""",
    """CREATE TABLE IF NOT EXISTS {db}.relationships (
        workspace_id String, id String, rel_type LowCardinality(String),
        source_collection LowCardinality(String), source_id String,
        target_collection LowCardinality(String), target_id String, data JSON, version UInt64, deleted Bool,
        created_at DateTime64(3, 'UTC'), updated_at DateTime64(3, 'UTC'))
    ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, rel_type, source_id, id)""",
    """CREATE TABLE IF NOT EXISTS {db}.collections (
        workspace_id String, id String, name String, json_schema String, version UInt64, deleted Bool,
        updated_at DateTime64(3, 'UTC'))
    ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, id)""",
    """CREATE TABLE IF NOT EXISTS {db}.relationship_types (
        workspace_id String, rel_type String, cardinality LowCardinality(String), version UInt64,
        deleted Bool, updated_at DateTime64(3, 'UTC'))
    ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, rel_type)""",
    """CREATE TABLE IF NOT EXISTS {db}.operations_log (
        seq UInt64, workspace_id String, entity LowCardinality(String), entity_id String,
        op LowCardinality(String), version UInt64, data JSON, actor String, at DateTime64(3, 'UTC'))
    ENGINE = MergeTree ORDER BY seq""",
)


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _records(ws: str, rows: list[tuple[str, str, int, bool, str, dict[str, Any]]]) -> pa.Table:
    import orjson

    return pa.table(
        {
            "workspace_id": [ws] * len(rows),
            "collection": [r[0] for r in rows],
            "id": [r[1] for r in rows],
            "data": [orjson.dumps(r[5]).decode() for r in rows],
            "version": pa.array([r[2] for r in rows], pa.uint64()),
            "deleted": [r[3] for r in rows],
            "created_at": pa.array([_ts(r[4]) for r in rows], pa.timestamp("ms", tz="UTC")),
            "updated_at": pa.array([_ts(r[4]) for r in rows], pa.timestamp("ms", tz="UTC")),
            "external_id": pa.array([None] * len(rows), pa.string()),
            "external_source": pa.array([None] * len(rows), pa.string()),
        }
    )


def _ticket(status: str, priority: str, assignee: str, category: str, channel: str, tags: list[str]) -> dict:
    return {
        "status": status,
        "priority": priority,
        "assignee": assignee,
        "category": category,
        "channel": channel,
        "tags": tags,
        "subject": f"{category} via {channel}",
    }


def _links(ws: str, rows: list[tuple[str, int, bool, str, str]]) -> pa.Table:
    return pa.table(
        {
            "workspace_id": [ws] * len(rows),
            "id": [r[0] for r in rows],
            "rel_type": ["submitted_by"] * len(rows),
            "source_collection": ["tickets"] * len(rows),
            "source_id": [r[3] for r in rows],
            "target_collection": ["customers"] * len(rows),
            "target_id": [r[4] for r in rows],
            "data": ["{}"] * len(rows),
            "version": pa.array([r[1] for r in rows], pa.uint64()),
            "deleted": [r[2] for r in rows],
            "created_at": pa.array([_ts("2024-03-01T00:00:00")] * len(rows), pa.timestamp("ms", tz="UTC")),
            "updated_at": pa.array([_ts("2024-03-01T00:00:00")] * len(rows), pa.timestamp("ms", tz="UTC")),
        }
    )


def _operations(ws: str, count: int) -> pa.Table:
    return pa.table(
        {
            "seq": pa.array(range(1, count + 1), pa.uint64()),
            "workspace_id": [ws] * count,
            "entity": ["record"] * count,
            "entity_id": [f"t{i % 7 + 1}" for i in range(count)],
            "op": ["update"] * count,
            "version": pa.array(range(1, count + 1), pa.uint64()),
            "data": ["{}"] * count,
            "actor": ["system"] * count,
            "at": pa.array([_ts("2024-03-01T00:00:00")] * count, pa.timestamp("ms", tz="UTC")),
        }
    )


def seed_sandbox_workspaces(engine: ChdbEngine) -> None:
    """Create sandbox_a and sandbox_b (again, if something dropped them). sandbox_a's numbers are the
    expectations of the sandbox tests."""
    global _seeded
    with _lock:
        databases = {WORKSPACE_A[0], WORKSPACE_B[0]}
        tables = engine.execute(
            "SELECT count() FROM system.tables WHERE database IN {dbs:Array(String)}",
            {"dbs": sorted(databases)},
        ).rows[0][0]
        if _seeded and tables == len(databases) * len(_DDL):
            return
        for db in databases:
            engine.execute(f"DROP DATABASE IF EXISTS {db}")
            engine.execute(f"CREATE DATABASE {db}")
            for ddl in _DDL:
                engine.execute(ddl.format(db=db))
        _seed_a(engine)
        _seed_b(engine)
        _seeded = True


def _seed_a(engine: ChdbEngine) -> None:
    db, ws = WORKSPACE_A
    engine.insert_arrow(
        db,
        "records",
        _records(
            ws,
            [
                (
                    "tickets",
                    "t1",
                    1,
                    False,
                    "2024-03-01T09:00:00",
                    _ticket("open", "urgent", "alice", "billing", "email", ["billing", "vip"]),
                ),
                (
                    "tickets",
                    "t2",
                    2,
                    False,
                    "2024-03-01T15:30:00",
                    _ticket("in_progress", "high", "alice", "technical", "chat", ["bug"]),
                ),
                (
                    "tickets",
                    "t3",
                    3,
                    False,
                    "2024-03-02T10:00:00",
                    _ticket("open", "urgent", "bob", "billing", "email", ["billing"]),
                ),
                (
                    "tickets",
                    "t4",
                    4,
                    False,
                    "2024-03-03T08:00:00",
                    _ticket("waiting", "low", "bob", "account", "phone", []),
                ),
                (
                    "tickets",
                    "t5",
                    5,
                    False,
                    "2024-03-03T12:00:00",
                    _ticket("closed", "high", "carol", "technical", "email", ["bug", "vip"]),
                ),
                (
                    "tickets",
                    "t6",
                    6,
                    True,
                    "2024-03-04T12:00:00",
                    _ticket("open", "low", "carol", "billing", "email", ["spam"]),
                ),
                (
                    "tickets",
                    "t7",
                    7,
                    False,
                    "2024-03-05T12:00:00",
                    _ticket("open", "urgent", "dave", "billing", "email", ["vip"]),
                ),
                ("customers", "c1", 8, False, "2024-01-01T00:00:00", {"name": "Acme", "plan": "pro"}),
                ("customers", "c2", 9, False, "2024-01-01T00:00:00", {"name": "Beta", "plan": "free"}),
                ("customers", "c3", 10, False, "2024-01-01T00:00:00", {"name": "Corp", "plan": "enterprise"}),
            ],
        ),
    )
    engine.insert_arrow(
        db,
        "relationships",
        _links(
            ws,
            [
                ("r1", 11, False, "t1", "c1"),
                ("r2", 12, False, "t2", "c1"),
                ("r3", 13, False, "t3", "c2"),
                ("r4", 14, False, "t4", "c2"),
                ("r5", 15, False, "t5", "c2"),
                ("r6", 16, True, "t6", "c3"),
                ("r7", 17, False, "t7", "c1"),
            ],
        ),
    )
    # Later versions in separate parts: only FINAL sees t7 closed and r4 pointing at c3.
    engine.insert_arrow(
        db,
        "records",
        _records(
            ws,
            [
                (
                    "tickets",
                    "t7",
                    20,
                    False,
                    "2024-03-05T12:00:00",
                    _ticket("closed", "urgent", "dave", "account", "chat", ["vip"]),
                ),
            ],
        ),
    )
    engine.insert_arrow(db, "relationships", _links(ws, [("r4", 21, False, "t4", "c3")]))
    engine.insert_arrow(db, "operations_log", _operations(ws, OPERATIONS_ROWS))


def _seed_b(engine: ChdbEngine) -> None:
    db, ws = WORKSPACE_B
    engine.insert_arrow(
        db,
        "records",
        _records(
            ws,
            [
                (
                    "tickets",
                    "b1",
                    1,
                    False,
                    "2024-03-01T09:00:00",
                    _ticket("open", "urgent", "mallory", "secret", "email", ["leak"]),
                ),
                (
                    "tickets",
                    "b2",
                    2,
                    False,
                    "2024-03-01T09:00:00",
                    _ticket("open", "urgent", "mallory", "secret", "email", ["leak"]),
                ),
                ("customers", "c1", 3, False, "2024-01-01T00:00:00", {"name": "Other", "plan": "pro"}),
            ],
        ),
    )
    engine.insert_arrow(db, "relationships", _links(ws, [("r1", 4, False, "b1", "c1")]))
    engine.insert_arrow(db, "operations_log", _operations(ws, 10))

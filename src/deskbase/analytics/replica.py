"""The ClickHouse replica: the change log replayed into one database per workspace, in columnar batches.

Every table is a ReplacingMergeTree keyed by the entity and versioned by the change `seq`, so inserting the
same change twice collapses and replay after a crash is safe. The watermark (the last replicated `seq`) is
stored in the replica itself, after the rows it covers: a crash between the two just replays a batch.
Destructive changes (deleting a collection, relationship type or workspace) flush pending rows first, then
act, so order is preserved.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
from sqlalchemy import case, func, select

from deskbase.analytics.engine import Engine
from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.errors import ReplicaLagging
from deskbase.core.ids import check_slug

log = logging.getLogger(__name__)

META_DB = "deskbase_meta"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
SMALL_INSERT = 200
JSON_COLUMNS = {"records": ("data",), "relationships": ("data",)}
BATCH = 20_000
TS = "DateTime64(3, 'UTC')"

DDL: dict[str, str] = {
    "records": f"""(
        workspace_id String, collection LowCardinality(String), id String, data JSON, version UInt64,
        deleted Bool, created_at {TS}, updated_at {TS}, external_id Nullable(String),
        external_source Nullable(String), number Nullable(UInt64)
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, collection, id)""",
    "relationships": f"""(
        workspace_id String, id String, rel_type LowCardinality(String), source_collection LowCardinality(String),
        source_id String, target_collection LowCardinality(String), target_id String, data JSON, version UInt64,
        deleted Bool, created_at {TS}, updated_at {TS}
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, rel_type, source_id, id)""",
    "collections": f"""(
        workspace_id String, id String, name String, description Nullable(String), icon Nullable(String),
        color Nullable(String), json_schema String, version UInt64, deleted Bool, updated_at {TS}
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, id)""",
    "relationship_types": f"""(
        workspace_id String, rel_type String, description Nullable(String), source_collections Array(String),
        target_collections Array(String), schema Nullable(String), cardinality LowCardinality(String),
        version UInt64, deleted Bool, updated_at {TS}
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, rel_type)""",
    "operations_log": f"""(
        seq UInt64, workspace_id String, entity LowCardinality(String), collection Nullable(String),
        entity_id String, op LowCardinality(String), actor Nullable(String), actor_name Nullable(String),
        at {TS}, data String
    ) ENGINE = ReplacingMergeTree(seq) ORDER BY (workspace_id, seq)""",
}
TABLES = tuple(DDL)
#: (table, column definition) added to DDL after replicas existed: `_open` adds them to older replicas.
ADDED_COLUMNS = (("records", "number Nullable(UInt64)"),)

SCHEMAS: dict[str, pa.Schema] = {
    "records": pa.schema(
        [
            ("workspace_id", pa.string()),
            ("collection", pa.string()),
            ("id", pa.string()),
            ("data", pa.string()),
            ("version", pa.uint64()),
            ("deleted", pa.bool_()),
            ("created_at", pa.string()),
            ("updated_at", pa.string()),
            ("external_id", pa.string()),
            ("external_source", pa.string()),
            ("number", pa.uint64()),
        ]
    ),
    "relationships": pa.schema(
        [
            ("workspace_id", pa.string()),
            ("id", pa.string()),
            ("rel_type", pa.string()),
            ("source_collection", pa.string()),
            ("source_id", pa.string()),
            ("target_collection", pa.string()),
            ("target_id", pa.string()),
            ("data", pa.string()),
            ("version", pa.uint64()),
            ("deleted", pa.bool_()),
            ("created_at", pa.string()),
            ("updated_at", pa.string()),
        ]
    ),
    "collections": pa.schema(
        [
            ("workspace_id", pa.string()),
            ("id", pa.string()),
            ("name", pa.string()),
            ("description", pa.string()),
            ("icon", pa.string()),
            ("color", pa.string()),
            ("json_schema", pa.string()),
            ("version", pa.uint64()),
            ("deleted", pa.bool_()),
            ("updated_at", pa.string()),
        ]
    ),
    "relationship_types": pa.schema(
        [
            ("workspace_id", pa.string()),
            ("rel_type", pa.string()),
            ("description", pa.string()),
            ("source_collections", pa.list_(pa.string())),
            ("target_collections", pa.list_(pa.string())),
            ("schema", pa.string()),
            ("cardinality", pa.string()),
            ("version", pa.uint64()),
            ("deleted", pa.bool_()),
            ("updated_at", pa.string()),
        ]
    ),
    "operations_log": pa.schema(
        [
            ("seq", pa.uint64()),
            ("workspace_id", pa.string()),
            ("entity", pa.string()),
            ("collection", pa.string()),
            ("entity_id", pa.string()),
            ("op", pa.string()),
            ("actor", pa.string()),
            ("actor_name", pa.string()),
            ("at", pa.string()),
            ("data", pa.string()),
        ]
    ),
}


def database_of(workspace_id: str) -> str:
    """`ws_<id>` with an injective mapping of the slug alphabet onto identifier characters.

    Only a valid workspace slug is accepted (InvalidId otherwise): the name ends up in DDL.
    """
    check_slug(workspace_id, "workspace")
    return "ws_" + workspace_id.replace("_", "__").replace("-", "_h")


def qi(name: str) -> str:
    """A backtick-quoted identifier for DDL and DML; only names built here (constants or `database_of`)
    reach it, and anything but a plain identifier is refused rather than escaped."""
    if not _IDENT.match(name):
        raise ValueError(f"invalid identifier {name!r}")
    return f"`{name}`"


@dataclass(frozen=True)
class DerivedTable:
    """A table derived in the primary store (e.g. SLA state), copied by version range after each batch."""

    name: str
    ddl: str
    schema: pa.Schema
    fetch: Callable[[Any, int, int], dict[str, list[dict[str, Any]]]]


def ts_text(value: str | datetime | None) -> str | None:
    """ClickHouse's basic DateTime64 text form, in UTC ('YYYY-MM-DD hh:mm:ss.mmm')."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    v = value.astimezone(UTC)
    return v.strftime("%Y-%m-%d %H:%M:%S.") + f"{v.microsecond // 1000:03d}"


def _json(value: Any) -> str:
    return orjson.dumps(value if value is not None else {}).decode()


@dataclass
class _Pending:
    rows: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, workspace_id: str, table: str, row: dict[str, Any]) -> None:
        self.rows[(workspace_id, table)].append(row)


class Replica:
    """Keeps the ClickHouse replica in step with the primary store's change log."""

    def __init__(self, core: Deskbase, engine: Engine, wait_seconds: float | None = None) -> None:
        self.core = core
        self.engine = engine
        self.wait_seconds = core.settings.sql_wait_seconds if wait_seconds is None else wait_seconds
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self.watermark = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._persisted_at = 0.0
        self._persisted_seq = -1
        self.derived: list[DerivedTable] = []
        self._open()

    def register(self, table: DerivedTable) -> None:
        """Replicate a derived table too (it becomes queryable once the workspace's tables are ensured)."""
        self.derived.append(table)
        for db in self._known:
            self.engine.execute(f"CREATE TABLE IF NOT EXISTS {qi(db)}.{qi(table.name)} {table.ddl}")

    # ---- setup ------------------------------------------------------------------------------------
    def _open(self) -> None:
        """Load the watermark; a replica of another store (or one ahead of this store) is reset, not trusted."""
        self.engine.execute(f"CREATE DATABASE IF NOT EXISTS {qi(META_DB)}")
        self.engine.execute(
            f"CREATE TABLE IF NOT EXISTS {qi(META_DB)}.watermark (id UInt8, seq UInt64, store String, at {TS}) "
            "ENGINE = ReplacingMergeTree(seq) ORDER BY id"
        )
        self.engine.execute(
            f"CREATE TABLE IF NOT EXISTS {qi(META_DB)}.databases (name String) ENGINE = ReplacingMergeTree ORDER BY name"
        )
        dbs = self.engine.execute(
            f"SELECT name FROM {qi(META_DB)}.databases WHERE name IN (SELECT name FROM system.databases)"
        )
        self._known = {r[0] for r in dbs.rows}
        # Columns added since the replica was made; their values arrive with each row's next change (the
        # numbering of existing tickets is such a change) or with a rebuild.
        for db in self._known:
            if _IDENT.match(db):
                for name, column in ADDED_COLUMNS:
                    self.engine.execute(f"ALTER TABLE {qi(db)}.{qi(name)} ADD COLUMN IF NOT EXISTS {column}")
        res = self.engine.execute(f"SELECT seq, store FROM {qi(META_DB)}.watermark FINAL WHERE id = 1")
        seq, store = (int(res.rows[0][0]), res.rows[0][1]) if res.rows else (0, "")
        with self.core.db.read() as conn:
            head = int(conn.execute(select(func.max(t.changes.c.seq))).scalar() or 0)
        if store != self.core.store_id or seq > head:
            if seq or self._known:
                log.warning("replica belongs to another store or is ahead of it; rebuilding it from scratch")
            self._reset()
        else:
            self.watermark = self._persisted_seq = seq

    def _reset(self) -> None:
        """Drop the workspace databases this replica created (never anything else on the engine)."""
        for db in list(self._known):
            if not _IDENT.match(db):
                log.warning("not dropping %r listed in the replica's catalogue: not a name it creates", db)
                continue
            self.engine.execute(f"DROP DATABASE IF EXISTS {qi(db)}")
        self._known.clear()
        self.engine.execute(f"TRUNCATE TABLE IF EXISTS {qi(META_DB)}.databases")
        self.engine.execute(f"TRUNCATE TABLE IF EXISTS {qi(META_DB)}.watermark")
        self.watermark = 0
        self._persisted_seq = -1

    def ensure_workspace(self, workspace_id: str) -> str:
        db = database_of(workspace_id)
        if db not in self._known:
            self.engine.execute(f"CREATE DATABASE IF NOT EXISTS {qi(db)}")
            for name, ddl in [*DDL.items(), *((d.name, d.ddl) for d in self.derived)]:
                self.engine.execute(f"CREATE TABLE IF NOT EXISTS {qi(db)}.{qi(name)} {ddl}")
            self.engine.execute(
                f"INSERT INTO {qi(META_DB)}.databases (name) VALUES ({{n:String}})", {"n": db}
            )
            self._known.add(db)
        return db

    # ---- replication ------------------------------------------------------------------------------
    def step(self, limit: int = BATCH) -> int:
        """Replicate the next batch of changes; returns how many were applied."""
        with self._lock:
            return self._step(limit)

    def _step(self, limit: int = BATCH) -> int:
        """`step` with the lock held by the caller."""
        with self.core.db.read() as conn:
            rows = conn.execute(
                select(t.changes).where(t.changes.c.seq > self.watermark).order_by(t.changes.c.seq).limit(limit)
            ).all()
        if not rows:
            return 0
        pending = _Pending()
        for row in rows:
            self._stage(row, pending)
        self._flush(pending)
        last = int(rows[-1].seq)
        self._copy_derived(self.watermark, last)
        self._set_watermark(last)
        return len(rows)

    def _copy_derived(self, lo: int, hi: int) -> None:
        if not self.derived:
            return
        with self.core.db.read() as conn:
            batches = [(d, d.fetch(conn, lo, hi)) for d in self.derived]
        for d, by_ws in batches:
            for ws, rows in by_ws.items():
                if rows:
                    self._insert(self.ensure_workspace(ws), d.name, d.schema, rows)

    def catch_up(self) -> int:
        total = 0
        while n := self.step():
            total += n
        with self._lock:
            self.persist_watermark()
        return total

    def _set_watermark(self, seq: int, force: bool = False) -> None:
        """Advance the watermark; persist it at most once a second (a crash replays at most that much, and
        replay is idempotent), so a one-write step costs one engine round trip less."""
        self.watermark = seq
        now = time.monotonic()
        if force or now - self._persisted_at >= 1.0:
            self.persist_watermark()
            self._persisted_at = now

    def persist_watermark(self) -> None:
        if self._persisted_seq == self.watermark:
            return
        self._persisted_seq = self.watermark
        self.engine.execute(
            f"INSERT INTO {qi(META_DB)}.watermark (id, seq, store, at) VALUES (1, {int(self.watermark)}, {{s:String}}, "
            "now64(3))",
            {"s": self.core.store_id},
        )

    def _stage(self, row: Any, pending: _Pending) -> None:
        ws, entity, op, img = row.workspace_id, row.entity, row.op, row.data or {}
        if entity == "workspace":
            if op == "delete":
                self._flush(pending)
                db = database_of(ws)
                self.engine.execute(f"DROP DATABASE IF EXISTS {qi(db)}")
                self._known.discard(db)
            else:
                self.ensure_workspace(ws)
        elif entity == "collection" and op == "delete":
            self._flush(pending)
            db = self.ensure_workspace(ws)
            cid = row.entity_id
            self.engine.execute(f"DELETE FROM {qi(db)}.records WHERE collection = {{c:String}}", {"c": cid})
            for side in ("source_collection", "target_collection"):
                self.engine.execute(
                    f"DELETE FROM {qi(db)}.relationships WHERE {side} = {{c:String}}", {"c": cid}
                )
            pending.add(
                ws,
                "collections",
                {
                    "workspace_id": ws,
                    "id": cid,
                    "name": "",
                    "description": None,
                    "icon": None,
                    "color": None,
                    "json_schema": "{}",
                    "version": row.seq,
                    "deleted": True,
                    "updated_at": ts_text(row.at),
                },
            )
        elif entity == "collection":
            pending.add(
                ws,
                "collections",
                {
                    "workspace_id": ws,
                    "id": row.entity_id,
                    "name": img.get("name") or "",
                    "description": img.get("description"),
                    "icon": img.get("icon"),
                    "color": img.get("color"),
                    "json_schema": _json(img.get("json_schema")),
                    "version": row.seq,
                    "deleted": False,
                    "updated_at": ts_text(row.at),
                },
            )
        elif entity == "relationship_type":
            if op == "delete":
                self._flush(pending)
                db = self.ensure_workspace(ws)
                self.engine.execute(
                    f"DELETE FROM {qi(db)}.relationships WHERE rel_type = {{r:String}}", {"r": row.entity_id}
                )
            pending.add(
                ws,
                "relationship_types",
                {
                    "workspace_id": ws,
                    "rel_type": row.entity_id,
                    "description": img.get("description"),
                    "source_collections": img.get("source_collections") or [],
                    "target_collections": img.get("target_collections") or [],
                    "schema": _json(img.get("schema")) if img.get("schema") is not None else None,
                    "cardinality": img.get("cardinality") or "many",
                    "version": row.seq,
                    "deleted": op == "delete",
                    "updated_at": ts_text(row.at),
                },
            )
        elif entity == "record":
            pending.add(
                ws,
                "records",
                {
                    "workspace_id": ws,
                    "collection": row.collection,
                    "id": row.entity_id,
                    "data": _json(img.get("data")),
                    "version": row.seq,
                    "deleted": bool(img.get("deleted")),
                    "created_at": ts_text(img.get("created_at")),
                    "updated_at": ts_text(img.get("updated_at")),
                    "external_id": img.get("external_id"),
                    "external_source": img.get("external_source"),
                    "number": img.get("number"),
                },
            )
        elif entity == "relationship":
            pending.add(
                ws,
                "relationships",
                {
                    "workspace_id": ws,
                    "id": row.entity_id,
                    "rel_type": img.get("rel_type") or row.collection,
                    "source_collection": img.get("source_collection"),
                    "source_id": img.get("source_id"),
                    "target_collection": img.get("target_collection"),
                    "target_id": img.get("target_id"),
                    "data": _json(img.get("data")),
                    "version": row.seq,
                    "deleted": bool(img.get("deleted")),
                    "created_at": ts_text(img.get("created_at")),
                    "updated_at": ts_text(img.get("updated_at")),
                },
            )
        if entity != "workspace" or op != "delete":
            pending.add(
                ws,
                "operations_log",
                {
                    "seq": row.seq,
                    "workspace_id": ws,
                    "entity": entity,
                    "collection": row.collection,
                    "entity_id": row.entity_id,
                    "op": op,
                    "actor": row.actor,
                    "actor_name": row.actor_name,
                    "at": ts_text(row.at),
                    "data": _json(row.data),
                },
            )

    def _flush(self, pending: _Pending) -> None:
        for (ws, table), rows in pending.rows.items():
            if not rows:
                continue
            self._insert(self.ensure_workspace(ws), table, SCHEMAS[table], rows)
        pending.rows.clear()

    def _insert(self, db: str, table: str, schema: pa.Schema, rows: list[dict[str, Any]]) -> None:
        """Columnar (Arrow) for batches; inline JSONEachRow for a few rows, where the Arrow path's fixed cost
        dominates (measured on chDB 4.4: ~9 ms vs ~2.5 ms for one row) — this is the read-your-writes path."""
        if len(rows) > SMALL_INSERT:
            arrays = {name: [r.get(name) for r in rows] for name in schema.names}
            self.engine.insert_arrow(db, table, pa.table(arrays, schema=schema))
            return
        json_cols = JSON_COLUMNS.get(table, ())
        lines = b"\n".join(
            orjson.dumps(
                {
                    n: (orjson.Fragment(r[n]) if n in json_cols and r.get(n) is not None else r.get(n))
                    for n in schema.names
                }
            )
            for r in rows
        )
        self.engine.execute(
            f"INSERT INTO {qi(db)}.{qi(table)} SETTINGS input_format_parallel_parsing = 0 FORMAT JSONEachRow "
            + lines.decode()
        )

    # ---- read-your-writes -------------------------------------------------------------------------
    def wait_for(self, workspace_id: str, timeout: float | None = None) -> None:
        """Block until the replica holds every committed change of the workspace, or raise 503.

        The caller replicates on its own thread when behind, so a read right after a write pays one small
        batch instead of waiting for the background worker's next wake-up.
        """
        target = self.core.last_seq(workspace_id)
        deadline = time.monotonic() + (self.wait_seconds if timeout is None else timeout)
        while self.watermark < target:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._lock.acquire(timeout=remaining):
                raise ReplicaLagging(
                    f"the SQL replica is behind the primary store (at change {self.watermark}, need {target}); retry",
                    {"watermark": self.watermark, "required": target, "retry_after": 1},
                )
            self._lock.release()
            self.step()

    # ---- background worker ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="deskbase-replicator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self.core.commit_signal:
            self.core.commit_signal.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._lock:
            self.persist_watermark()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                n = self.step()
            except Exception:
                log.exception("replication step failed; retrying")
                self._stop.wait(1.0)
                continue
            if n == 0:
                with self._lock:
                    self.persist_watermark()  # idle: make the last advance durable
                with self.core.commit_signal:
                    self.core.commit_signal.wait(timeout=0.5)

    # ---- rebuild and verify -----------------------------------------------------------------------
    def rebuild(self) -> int:
        """Drop every workspace database and replay the change log from the start, holding the replication
        lock throughout: the background replicator cannot replay part of it meanwhile (which made the count of
        replayed changes come out short)."""
        with self._lock:
            self._reset()
            with self.core.db.read() as conn:
                workspaces = [r[0] for r in conn.execute(select(t.workspaces.c.id))]
            for ws in workspaces:
                self.ensure_workspace(ws)
            total = 0
            while n := self._step():
                total += n
            self.persist_watermark()
        return total

    def verify(self) -> list[dict[str, Any]]:
        """Per workspace and collection (and relationship type): live counts and max versions on both sides.

        Returns the differences (empty = consistent). Call after `catch_up` for a meaningful answer.
        """
        diffs: list[dict[str, Any]] = []
        r, rel = t.records, t.relationships
        with self.core.db.read() as conn:
            workspaces = [x[0] for x in conn.execute(select(t.workspaces.c.id))]
            prim_rec = {
                (x.workspace_id, x.collection): (int(x.live), int(x.maxv or 0))
                for x in conn.execute(
                    select(
                        r.c.workspace_id,
                        r.c.collection,
                        func.sum(case((r.c.deleted.is_(False), 1), else_=0)).label("live"),
                        func.max(r.c.version).label("maxv"),
                    ).group_by(r.c.workspace_id, r.c.collection)
                )
            }
            prim_rel = {
                (x.workspace_id, x.rel_type): (int(x.live), int(x.maxv or 0))
                for x in conn.execute(
                    select(
                        rel.c.workspace_id,
                        rel.c.rel_type,
                        func.sum(case((rel.c.deleted.is_(False), 1), else_=0)).label("live"),
                        func.max(rel.c.version).label("maxv"),
                    ).group_by(rel.c.workspace_id, rel.c.rel_type)
                )
            }
        for ws in workspaces:
            db = database_of(ws)
            if db not in self._known:
                diffs.append({"workspace": ws, "problem": "missing replica database"})
                continue
            rep = self.engine.execute(
                f"SELECT collection, countIf(NOT deleted), max(version) FROM {qi(db)}.records FINAL GROUP BY collection"
            )
            rep_rec = {(ws, c): (int(n), int(v)) for c, n, v in rep.rows}
            rep = self.engine.execute(
                f"SELECT rel_type, countIf(NOT deleted), max(version) FROM {qi(db)}.relationships FINAL GROUP BY rel_type"
            )
            rep_rel = {(ws, c): (int(n), int(v)) for c, n, v in rep.rows}
            for kind, prim, repl in (("collection", prim_rec, rep_rec), ("rel_type", prim_rel, rep_rel)):
                keys = {k for k in prim if k[0] == ws} | set(repl)
                for key in sorted(keys):
                    a, b = prim.get(key, (0, 0)), repl.get(key, (0, 0))
                    if a != b:
                        diffs.append(
                            {
                                "workspace": ws,
                                kind: key[1],
                                "primary": {"live": a[0], "max_version": a[1]},
                                "replica": {"live": b[0], "max_version": b[1]},
                            }
                        )
        return diffs

"""The replicator: keeps the ClickHouse replica in step with the primary store's change log.

It reads change rows by `seq` in batches, raw (raw.py), with the derived tables' rows of the same changes
(derived.py: by version range, in the same read), and hands each batch to ClickHouse in one INSERT … SELECT
per table, which builds the typed rows (change_rows.py). The watermark (the last replicated `seq`) is stored
in the replica itself, after the rows it covers: a crash between the two just replays a batch, and replay
collapses (ReplacingMergeTree).
Destructive changes (deleting a collection, relationship type or workspace) are acted on in order: the rows
before them are inserted first.

Why the background loop waits `replica_interval_seconds` between steps: every step inserts one part per
table and ClickHouse merges parts on background threads; stepping on every commit made those merges take
~45% of a core and halved the HTTP create rate on a 2-core machine (bench/README.md, "Replicator"). SQL
reads do not wait for the loop: `wait_for` replicates what they need on the reader's thread.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import func, select

from deskbase.analytics.batch_plan import Insert, change_inserts, derived_inserts, destructive_positions
from deskbase.analytics.change_rows import COLUMNS
from deskbase.analytics.compaction import Compactor
from deskbase.analytics.derived import DerivedTable
from deskbase.analytics.engine import Engine
from deskbase.analytics.gc_pause import collector_paused
from deskbase.analytics.raw import to_arrow
from deskbase.analytics.replica_tables import ADDED_COLUMNS, DDL, IDENT, META_DB, TABLES, TS, database_of, qi
from deskbase.analytics.verify import differences
from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.errors import ReplicaLagging
from deskbase.core.loops import Loop

__all__ = ["BATCH", "TABLES", "Replica", "database_of", "qi"]

log = logging.getLogger(__name__)

BATCH = 20_000
#: How soon read-your-writes looks again while the log's horizon is below what it waits for.
HORIZON_POLL = 0.002


@dataclass(frozen=True)
class _Batch:
    """Change rows after a watermark, and the derived tables' rows of those same changes, read together."""

    changes: pa.Table
    derived: list[tuple[DerivedTable, pa.Table]]


class Replica:
    """Keeps the ClickHouse replica in step with the primary store's change log."""

    def __init__(
        self,
        core: Deskbase,
        engine: Engine,
        wait_seconds: float | None = None,
        interval: float | None = None,
        merge_seconds: float | None = None,
    ) -> None:
        self.core = core
        self.engine = engine
        s = core.settings
        self.wait_seconds = s.sql_wait_seconds if wait_seconds is None else wait_seconds
        self.interval = s.replica_interval_seconds if interval is None else interval
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self.watermark = 0
        self._stepped_at = 0.0
        #: the workspace databases a drain wrote to (what `compact` merges after a backlog)
        self._touched: set[str] = set()
        merge_every = s.replica_merge_seconds if merge_seconds is None else merge_seconds
        self.compactor = Compactor(engine, lambda: self._known, merge_every)
        self.loop = Loop(core.db, core.clock, "replicator", self._turn, idle_seconds=0.5)
        core.hooks.on_commit(lambda _entries: self.loop.wake())
        self._persisted_at = 0.0
        self._persisted_seq = -1
        self.derived: list[DerivedTable] = []
        self._pool: ThreadPoolExecutor | None = None
        self._open()

    def register(self, table: DerivedTable) -> None:
        """Replicate a derived table too (it becomes queryable once the workspace's tables are ensured)."""
        self.derived.append(table)
        for db in self._known:
            self.engine.execute(self.engine.ddl.create_table(db, table.name, table.ddl))

    # ---- setup ------------------------------------------------------------------------------------
    def _open(self) -> None:
        """Load the watermark; a replica of another store (or one ahead of this store) is reset, not trusted."""
        ddl = self.engine.ddl
        self.engine.execute(ddl.create_database(META_DB))
        self.engine.execute(
            ddl.create_table(
                META_DB,
                "watermark",
                f"(id UInt8, seq UInt64, store String, at {TS}) ENGINE = ReplacingMergeTree(seq) ORDER BY id",
            )
        )
        self.engine.execute(
            ddl.create_table(META_DB, "databases", "(name String) ENGINE = ReplacingMergeTree ORDER BY name")
        )
        dbs = self.engine.execute(
            f"SELECT name FROM {qi(META_DB)}.databases WHERE name IN (SELECT name FROM system.databases)"
        )
        self._known = {r[0] for r in dbs.rows}
        # Columns added since the replica was made; their values arrive with each row's next change (the
        # numbering of existing tickets is such a change) or with a rebuild.
        for db in self._known:
            if IDENT.match(db):
                for name, column in ADDED_COLUMNS:
                    self.engine.execute(ddl.add_column(db, name, column))
        res = self.engine.execute(f"SELECT seq, store FROM {qi(META_DB)}.watermark FINAL WHERE id = 1")
        seq, store = (int(res.rows[0][0]), res.rows[0][1]) if res.rows else (0, "")
        head = self._head()
        if store != self.core.store_id or seq > head:
            if seq or self._known:
                log.warning("replica belongs to another store or is ahead of it; rebuilding it from scratch")
            self._reset()
        else:
            self.watermark = self._persisted_seq = seq

    def _reset(self) -> None:
        """Drop the workspace databases this replica created (never anything else on the engine)."""
        for db in list(self._known):
            if not IDENT.match(db):
                log.warning("not dropping %r listed in the replica's catalogue: not a name it creates", db)
                continue
            self._drop(db)
        self._known.clear()
        self.engine.execute(self.engine.ddl.truncate(META_DB, "databases"))
        self.engine.execute(self.engine.ddl.truncate(META_DB, "watermark"))
        self.watermark = 0
        self._persisted_seq = -1

    def _drop(self, db: str) -> None:
        """Drop a workspace database and its access (a server's read-only user)."""
        self.engine.execute(self.engine.ddl.drop_database(db))
        self.engine.deprovision(db)

    def ensure_workspace(self, workspace_id: str) -> str:
        db = database_of(workspace_id)
        if db not in self._known:
            ddl = self.engine.ddl
            self.engine.execute(ddl.create_database(db))
            for name, body in [*DDL.items(), *((d.name, d.ddl) for d in self.derived)]:
                self.engine.execute(ddl.create_table(db, name, body))
            self.engine.provision(db)
            self.engine.execute(f"INSERT INTO {qi(META_DB)}.databases (name) SELECT {{n:String}}", {"n": db})
            self._known.add(db)
        return db

    # ---- replication ------------------------------------------------------------------------------
    def step(self, limit: int = BATCH) -> int:
        """Replicate the next batch of changes; returns how many were applied."""
        with self._lock:
            return self._step(limit)

    def _step(self, limit: int = BATCH) -> int:
        """`step` with the lock held by the caller."""
        batch = self._fetch(self.watermark, limit)
        return self._apply(batch) if batch.changes.num_rows else 0

    def _drain(self, until: int) -> int:
        """Replicate up to change `until` (lock held), reading the next batch (its derived rows too) from the
        primary store while the engine inserts the current one: the two overlap on two cores."""
        total = 0
        with ThreadPoolExecutor(1, thread_name_prefix="deskbase-replica-read") as pool:
            ahead = pool.submit(self._fetch, self.watermark, BATCH, until)
            while (batch := ahead.result()).changes.num_rows:
                ahead = pool.submit(self._fetch, batch.changes["seq"][-1].as_py(), BATCH, until)
                total += self._apply(batch)
        return total

    def _fetch(self, after: int, limit: int, until: int | None = None) -> _Batch:
        """The next change rows after `after`, raw, never past the log's horizon (core/horizon.py: a change
        still in flight below it would be skipped for good once the watermark moved past it), and the derived
        tables' rows of those changes, in one read with the garbage collector held off (gc_pause.py)."""
        seq = t.changes.c.seq
        query = select(*(c.expr for c in COLUMNS)).where(seq > after)
        with collector_paused(), self.core.db.read() as conn:
            final = self.core.db.horizon.seq(conn)
            bound = until if final is None else final if until is None else min(until, final)
            if bound is not None:
                query = query.where(seq <= bound)
            changes = to_arrow(COLUMNS, conn.execute(query.order_by(seq).limit(limit)).all())
            if not changes.num_rows:
                return _Batch(changes, [])
            last = int(changes["seq"][-1].as_py())
            return _Batch(changes, [(d, d.fetch(conn, after, last)) for d in self.derived])

    def _apply(self, batch: _Batch) -> int:
        """Insert a batch that starts right after the watermark, then its derived rows; advance the watermark."""
        changes = batch.changes
        start = 0
        for i in destructive_positions(changes):
            self._insert(change_inserts(changes.slice(start, i - start), self._written))
            self._destroy(changes.slice(i, 1).to_pylist()[0])
            start = i  # the change's own rows (a tombstone, its log entry) follow the action
        last = int(changes["seq"][-1].as_py())
        self._insert(
            change_inserts(changes.slice(start), self._written)
            + derived_inserts(batch.derived, self.ensure_workspace)
        )
        self._set_watermark(last)
        return changes.num_rows

    def _insert(self, inserts: list[Insert]) -> None:
        """Run the inserts two at a time (the engine's admin connections): they fill different tables, and
        the engine works outside the GIL, so two cores share a batch (catch-up: see bench/README.md, "Replicator")."""
        if len(inserts) <= 1:
            for job in inserts:
                self.engine.insert_select(*job)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(2, thread_name_prefix="deskbase-replica-insert")
        for done in [self._pool.submit(self.engine.insert_select, *job) for job in inserts]:
            done.result()

    def _destroy(self, change: dict[str, Any]) -> None:
        """Act on a destructive change: drop the workspace's database, or delete what the collection or
        relationship type held."""
        ws, entity, target = change["workspace_id"], change["entity"], change["entity_id"]
        if entity == "workspace":
            db = database_of(ws)
            self._drop(db)
            self._known.discard(db)
            return
        db = self.ensure_workspace(ws)
        if entity == "collection":
            ddl = self.engine.ddl
            self.engine.execute(ddl.delete(db, "records", "collection = {c:String}"), {"c": target})
            for side in ("source_collection", "target_collection"):
                self.engine.execute(ddl.delete(db, "relationships", f"{side} = {{c:String}}"), {"c": target})
        else:
            self.engine.execute(
                self.engine.ddl.delete(db, "relationships", "rel_type = {r:String}"), {"r": target}
            )

    def _written(self, ws: str) -> str:
        """The workspace's database, marked as written by this step (compaction follows the writes)."""
        db = self.ensure_workspace(ws)
        self._touched.add(db)
        self.compactor.wrote(db)
        return db

    def catch_up(self, compact: bool = True) -> int:
        """Replicate every change committed so far; returns how many. A backlog (an import, a restart)
        leaves many parts: they are merged before returning (`compact`), or on a thread of their own
        (`compact=False`, the background loop: replication goes on meanwhile)."""
        with self._lock:
            self._touched.clear()
            total = self._drain(self._final_head())
            self.persist_watermark()
            touched = set(self._touched)
        if total >= BATCH:
            if compact:
                self.compactor.compact(touched)
            else:
                self.compactor.later(touched)
        return total

    def compact(self, databases: set[str] | None = None) -> None:
        """Merge the parts queries read with FINAL (every workspace's, or these databases'): compaction.py."""
        self.compactor.compact(databases)

    def _head(self) -> int:
        with self.core.db.read() as conn:
            return int(conn.execute(select(func.max(t.changes.c.seq))).scalar() or 0)

    def _final_head(self) -> int:
        """The last change committed so far that no change still in flight can come before."""
        with self.core.db.read() as conn:
            final = self.core.db.horizon.seq(conn)
            head = int(conn.execute(select(func.max(t.changes.c.seq))).scalar() or 0)
        return head if final is None else min(head, final)

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
            # INSERT … SELECT, not VALUES: query parameters are substituted in a query, and VALUES is data.
            f"INSERT INTO {qi(META_DB)}.watermark (id, seq, store, at) SELECT 1, {int(self.watermark)}, {{s:String}}, "
            "now64(3)",
            {"s": self.core.store_id},
        )

    # ---- read-your-writes -------------------------------------------------------------------------
    def wait_for(self, workspace_id: str, timeout: float | None = None) -> None:
        """Block until the replica holds every committed change of the workspace, or raise 503.

        The caller replicates on its own thread when behind, so a read right after a write pays one small
        batch instead of waiting for the background worker's next step.
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
            if not self.step():
                # PostgreSQL: a transaction below the target has not committed yet (the horizon holds).
                time.sleep(min(HORIZON_POLL, max(0.0, deadline - time.monotonic())))

    # ---- background worker ------------------------------------------------------------------------
    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()
        self.compactor.stop()
        with self._lock:
            self.persist_watermark()
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None

    def _turn(self) -> float | None:
        """One turn of the background loop (core/loops.py: a lease, so one process replicates; a commit wakes
        it): step when changes come in, at most once per `interval` while they keep coming (a full batch means
        a backlog: no pause then)."""
        hold = self.interval - (time.monotonic() - self._stepped_at)
        if hold > 0:
            return hold
        n = self.step()
        if n >= BATCH:  # a backlog (a restart, an import): drain it at full speed
            self.catch_up(compact=False)
            return 0.0
        if n:
            self._stepped_at = time.monotonic()
            self.compactor.merge_due()
            return self.interval
        if self._head() > self.watermark:
            return HORIZON_POLL * 5  # committed changes wait behind one still in flight: look again soon
        with self._lock:
            self.persist_watermark()  # idle: make the last advance durable
        self.compactor.merge_due()
        return None

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
            total = self._drain(self._final_head())
            self.persist_watermark()
        self.compact()
        return total

    def verify(self) -> list[dict[str, Any]]:
        """Differences between the primary store and the replica (empty = consistent); call after
        `catch_up` for a meaningful answer."""
        return differences(self.core, self.engine, self._known)

"""Part management for the replica: merging the parts of the tables queries read with FINAL.

Queries read `records` and `relationships` with FINAL, which collapses versions across unmerged parts at query
time: after a catch-up of 200k changes in batches, the seed queries ran 3-9x slower than on merged parts
(bench/sql.py, bench/README.md, "Replica parts"). ClickHouse merges in the background too, but slowly and not
to one part; merging after a backlog brings a bulk load to the merged state at once.

Steady writes leave one small part per replication step. ClickHouse merges small parts together but seldom into
the large one, and FINAL over a large part plus parts updating rows scattered across it ran the seed queries
1.5-4.6 times slower than over one part (bench/README.md, "Replica parts"); so the databases written since the
last merge are merged again every `replica_merge_seconds` (`merge_due`). A table already in one part is left
alone: OPTIMIZE … FINAL would rewrite it for nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from deskbase.analytics.engine import Engine

log = logging.getLogger(__name__)

#: The tables queries read with FINAL, merged after a backlog.
COMPACTED = ("records", "relationships")


class Compactor:
    """Merges the FINAL tables' parts of the replica's workspace databases, now or on a thread of its own."""

    def __init__(self, engine: Engine, known: Callable[[], set[str]], merge_every: float = 0.0) -> None:
        self.engine = engine
        #: the workspace databases the replica holds now (a dropped one is never merged)
        self._known = known
        #: least seconds between two periodic merges (0: only after a backlog)
        self.merge_every = merge_every
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._thread: threading.Thread | None = None
        self._written: set[str] = set()
        self._merged_at = time.monotonic()

    def wrote(self, database: str) -> None:
        """Note that replication inserted into this database (a candidate for the next periodic merge)."""
        with self._lock:
            self._written.add(database)

    def merge_due(self, now: float | None = None) -> bool:
        """Merge the databases written since the last merge, at most once per `merge_every`, on the
        compactor's thread; returns whether it started one."""
        now = time.monotonic() if now is None else now
        if self.merge_every <= 0 or now - self._merged_at < self.merge_every:
            return False
        with self._lock:
            written, self._written = self._written, set()
        self._merged_at = now
        if written:
            self.later(written)
        return bool(written)

    def compact(self, databases: set[str] | None = None) -> None:
        """Merge the parts of `records` and `relationships` (every workspace's, or these databases').

        Runs without the replication lock: inserts go on meanwhile and land in new parts."""
        known = self._known()
        for db in sorted(known if databases is None else databases & known):
            try:
                for table in self._unmerged(db):
                    self.engine.execute(self.engine.ddl.optimize(db, table))
            except Exception:
                log.exception("could not merge the parts of %s", db)

    def _unmerged(self, db: str) -> list[str]:
        """The FINAL tables of `db` held in more than one active part."""
        tables = ", ".join(f"'{t}'" for t in COMPACTED)  # constants of this module
        rows = self.engine.execute(
            f"SELECT table FROM system.parts WHERE database = {{d:String}} AND active AND table IN ({tables}) "
            "GROUP BY table HAVING count() > 1 ORDER BY table",
            {"d": db},
        ).rows
        return [str(r[0]) for r in rows]

    def later(self, databases: set[str]) -> None:
        """Merge these databases on a thread of its own (the background loop: replication goes on meanwhile)."""
        with self._lock:
            self._pending |= databases
            if self._thread is not None:
                return  # the running one takes what was added before it finishes

            def run() -> None:
                while True:
                    with self._lock:
                        pending, self._pending = self._pending, set()
                        if not pending:
                            self._thread = None
                            return
                    self.compact(pending)

            self._thread = threading.Thread(target=run, name="deskbase-replica-compact", daemon=True)
            self._thread.start()

    def wait(self, timeout: float = 60) -> None:
        """Wait for the merges started (and those queued meanwhile) to finish."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout=timeout)

    def stop(self) -> None:
        """Let a merge under way finish; none starts after it."""
        with self._lock:
            self._pending.clear()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=60)

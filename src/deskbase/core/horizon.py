"""How far the change log is final: the seq at or below which no change can still commit (PostgreSQL).

Writers run concurrently on PostgreSQL and draw a change's seq (`nextval`) before their transaction commits,
so seq 41 may commit after 42 was read. A consumer that moved its watermark to 42 would never see 41. Every
consumer of the log by seq (replicator, webhook dispatcher, change feed, console "seen" marks) therefore
reads only up to the horizon.

The horizon is found by probing, with no bookkeeping on the write path:

1. read the sequence's last value M: every seq <= M has been drawn;
2. then list the transactions that hold the store's writer mark (a shared transaction lock in `pg_locks`),
   by their transaction ids (each holds the lock on its own id until after its commit is visible): the set R.

A writer takes its transaction id and the writer mark before it draws a seq (`bulk.allocate_seqs`), so
whoever holds a seq <= M held both before step 2: it is in R, or it had already finished. Once no member of R
holds its id any more, every change with seq <= M has committed (and is visible to the caller's next
statement) or never will: M is final. Whether R is done is read off a later probe's own list, so a caller
pays two short statements and never waits. Probes of one store are taken one at a time, so "later" is well
defined, and a settled probe settles every earlier one (whatever ran at the earlier one and still ran later
was in its R too).

Why not a snapshot's running list, or the writer's transaction id stored in each change row and compared
with the snapshot's xmin: a snapshot leaves out running transactions whose ids are newer than the last one
that completed, and a running transaction's own change rows are invisible until it commits, so no query over
snapshots or visible rows bounds the seqs it holds. What bounds them is the moment it took its id, which only
a probe of the lock table taken after that moment sees.

Cost of correctness: one long transaction that wrote changes to this store holds the horizon back until it
ends, so the replica and webhooks wait for it; `idle_in_transaction_session_timeout` bounds a forgotten one.
Other transactions on the cluster (other schemas, databases, applications) do not: they never take the mark.

The sequence must not be cached per session (CACHE 1, PostgreSQL's default for the serial column):
a backend handing out seqs from a cached range would draw seqs <= M after step 1.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from deskbase.core.bulk import WRITER_MARK

#: Probes kept waiting for their transactions (more only while a long transaction runs; the oldest are
#: dropped then, which can only delay the horizon, never move it too far).
MAX_PENDING = 64
#: The transaction ids of the transactions holding the writer mark (advisory lock on one bigint key: its
#: high and low halves as classid and objid, objsubid 1, in this database).
_HOLDERS = (
    "SELECT coalesce(array_agg(x.transactionid::text::bigint), '{}') FROM pg_locks m "
    "JOIN pg_locks x ON x.pid = m.pid AND x.locktype = 'transactionid' AND x.mode = 'ExclusiveLock' "
    "AND x.granted "
    "WHERE m.locktype = 'advisory' AND m.granted AND m.objsubid = 1 "
    "AND m.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND m.classid = %s::bigint::text::oid AND m.objid = %s::bigint::text::oid"
)


@dataclass(frozen=True)
class _Probe:
    last: int  #: the sequence's last value, read first
    holders: frozenset[int]  #: transaction ids held when it was taken


class Horizon:
    """The change log's horizon on one store (thread-safe; one per `Database`)."""

    def __init__(self, serial: bool) -> None:
        #: SQLite: one writer at a time, seqs commit in order, everything visible is final.
        self.serial = serial
        self._lock = threading.Lock()
        self._pending: list[_Probe] = []
        self._settled = 0
        self._sequence: str | None = None
        self._mark: tuple[int, int] = (0, 0)

    def seq(self, conn: Any) -> int | None:
        """The highest seq at or below which every change that will ever commit is visible to the caller's
        next statement (`conn` in READ COMMITTED, as `Database.read` gives). None: no bound (SQLite)."""
        if self.serial:
            return None
        with self._lock:
            probe = self._probe(conn)
            kept: list[_Probe] = []
            for p in [*self._pending, probe]:
                if p.holders.isdisjoint(probe.holders):
                    self._settled = max(self._settled, p.last)
                    kept = []  # earlier probes are settled too
                else:
                    kept.append(p)
            self._pending = kept[-MAX_PENDING:]
            return self._settled

    def wait(self, conn: Any, target: int, timeout: float) -> int | None:
        """`seq`, once it reaches `target` (what the caller has seen committed) or `timeout` seconds have
        passed, whichever comes first: a reader right after a write gets a horizon past that write, paying
        only for the transactions in flight around it."""
        final = self.seq(conn)
        deadline = time.monotonic() + timeout
        pause = 0.0005
        while final is not None and final < target and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.005)
            final = self.seq(conn)
        return final

    def _probe(self, conn: Any) -> _Probe:
        """Step 1 and step 2 as two statements, in that order; the list is also what earlier probes are
        checked against (probes run one at a time, under the caller's `_lock`)."""
        seq = self._sequence or self._resolve(conn)
        last, called = conn.exec_driver_sql(f"SELECT last_value, is_called FROM {seq}").one()
        holders = conn.exec_driver_sql(_HOLDERS, self._mark).scalar_one()
        return _Probe(int(last) if called else int(last) - 1, frozenset(int(x) for x in holders))

    def _resolve(self, conn: Any) -> str:
        name, cache = conn.exec_driver_sql(
            "SELECT s.seqrelid::regclass::text, s.seqcache FROM pg_sequence s "
            "WHERE s.seqrelid = pg_get_serial_sequence('changes', 'seq')::regclass"
        ).one()
        if int(cache) != 1:
            raise RuntimeError(
                f"sequence {name} caches {cache} values per session; the change-log horizon needs CACHE 1"
            )
        mark = int(conn.exec_driver_sql(f"SELECT {WRITER_MARK}").scalar_one()) & 0xFFFFFFFFFFFFFFFF
        self._mark = (mark >> 32, mark & 0xFFFFFFFF)
        self._sequence = name
        return str(name)

"""How far the change log is final: the seq at or below which no change can still commit (PostgreSQL).

Writers run concurrently on PostgreSQL and draw a change's seq (`nextval`) before their transaction commits,
so seq 41 may commit after 42 was read. A consumer that moved its watermark to 42 would never see 41. Every
consumer of the log by seq (replicator, webhook dispatcher, change feed, console "seen" marks) therefore
reads only up to the horizon.

The horizon is found by probing, with no bookkeeping on the write path:

1. read the sequence's last value M: every seq <= M has been drawn;
2. then take a snapshot; its running transactions are R.

A writer takes its transaction id before it draws a seq (`bulk.allocate_seqs`), so whoever holds a seq <= M
had its id before step 2: it is in R, or it had already finished. Once no member of R is running any more,
every change with seq <= M has committed or never will: M is final. Whether R is done is read off a later
probe's own snapshot, so a caller pays two short statements and never waits. A probe is settled when it
has no running member; a settled probe settles every older one (what ran at the older one and still ran
at the newer one was in the newer one's R too).

Why not keep the writer's transaction id in each change row and read below the snapshot's xmin: a
transaction still running may hold a seq lower than changes already visible, and its own change rows are
invisible until it commits, so no query over visible rows can bound its seq. The moment a writer takes its
id is what bounds it, and only a probe taken after that moment can see it.

Cost of correctness: one long write transaction anywhere on the PostgreSQL cluster (an open transaction
that wrote something, in any database) holds the horizon back until it ends, so the replica and webhooks
wait for it; `idle_in_transaction_session_timeout` bounds a forgotten one.

The sequence must not be cached per session (CACHE 1, PostgreSQL's default for the serial column):
a backend handing out seqs from a cached range would draw seqs <= M after step 1.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

#: Probes kept waiting for their running transactions (more only while a long transaction runs; the
#: oldest are dropped then, which can only delay the horizon, never move it too far).
MAX_PENDING = 64


@dataclass(frozen=True)
class _Probe:
    last: int
    running: frozenset[int]


def _running(snapshot: str) -> frozenset[int]:
    """The in-progress transaction ids of a `pg_snapshot` in its text form `xmin:xmax:xip,…`."""
    xip = snapshot.split(":")[2]
    return frozenset(int(x) for x in xip.split(",") if x)


class Horizon:
    """The change log's horizon on one store (thread-safe; one per `Database`)."""

    def __init__(self, serial: bool) -> None:
        #: SQLite: one writer at a time, seqs commit in order, everything visible is final.
        self.serial = serial
        self._lock = threading.Lock()
        self._pending: list[_Probe] = []
        self._settled = 0
        self._sequence: str | None = None

    def seq(self, conn: Any) -> int | None:
        """The highest seq at or below which every change that will ever commit is visible to the caller's
        next statement (`conn` in READ COMMITTED, as `Database.read` gives). None: no bound (SQLite)."""
        if self.serial:
            return None
        probe, running = self._probe(conn)
        with self._lock:
            kept: list[_Probe] = []
            for p in [*self._pending, probe]:
                if p.running.isdisjoint(running):
                    self._settled = max(self._settled, p.last)
                    kept = []  # older probes are settled too
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

    def _probe(self, conn: Any) -> tuple[_Probe, frozenset[int]]:
        """Step 1 and step 2 as two statements (each READ COMMITTED statement takes its own snapshot, after
        the one before it); the snapshot's running set is also what older probes are checked against."""
        seq = self._sequence or self._resolve(conn)
        last, called = conn.exec_driver_sql(f"SELECT last_value, is_called FROM {seq}").one()
        running = _running(conn.exec_driver_sql("SELECT pg_current_snapshot()::text").scalar_one())
        return _Probe(int(last) if called else int(last) - 1, running), running

    def _resolve(self, conn: Any) -> str:
        name, cache = conn.exec_driver_sql(
            "SELECT s.seqrelid::regclass::text, s.seqcache FROM pg_sequence s "
            "WHERE s.seqrelid = pg_get_serial_sequence('changes', 'seq')::regclass"
        ).one()
        if int(cache) != 1:
            raise RuntimeError(
                f"sequence {name} caches {cache} values per session; the change-log horizon needs CACHE 1"
            )
        self._sequence = name
        return str(name)

"""Fan-out: the outbox side of the dispatcher. It reads the change log past the watermark, builds the events
some enabled trigger asks for (and the SLA events those changes recorded), matches them, and queues the
deliveries and the new watermark in ONE transaction — so a crash either queues a batch or not, and a re-read
queues nothing twice. What happens to a queued delivery afterwards is the dispatcher's (dispatcher.py).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from deskbase.core import loops
from deskbase.core import tables as ct
from deskbase.core.app import Deskbase
from deskbase.events import build, deliveries, matching
from deskbase.events.expiry import OwnerExpiry
from deskbase.events.triggers import Triggers

BATCH = 500  #: changes read per turn
PERSIST_IDLE_WATERMARK = 5.0


class FanOut:
    """The watermark over the outbox and what a turn learnt about it; used by the dispatcher's loop thread only
    (`may_match` and `generation` are also read by committing threads: plain attributes, a stale read costs
    one turn)."""

    def __init__(self, core: Deskbase, name: str, store: Triggers, expiry: OwnerExpiry) -> None:
        self.core = core
        self.name = name
        self.store = store
        self.expiry = expiry
        self._watermark: int | None = None
        self._saved_at = time.monotonic()
        #: The last turn stopped at the horizon with committed changes beyond it.
        self.held = False
        #: Some trigger was enabled at the last turn (read at `store.enabled_at` that generation): a commit
        #: wakes the loop only then, or once a trigger was enabled since. Otherwise each write would cost a
        #: turn of reads for nothing; the idle timer still moves the watermark on.
        self.may_match = True
        self.generation = -1

    def worth_a_turn(self) -> bool:
        """A commit may have queued something for a trigger (see `may_match`)."""
        return self.may_match or self.store.generation != self.generation

    def run(self) -> int:
        """Queue deliveries for the next batch of changes; returns how many changes were read."""
        pairs: list[tuple[str, matching.Event]] = []
        with self.core.db.read() as conn:
            if self._watermark is None:
                self._watermark = loops.read_watermark(conn, self.name)
            lo = self._watermark
            generation = self.store.generation  # before the read: an enabling commit after it wakes us
            specs = self.store.enabled_specs(conn)
            expired = self._expired(conn, specs)
            self.may_match, self.generation = bool(specs), generation
            # Never past a change still in flight (core/horizon.py): the watermark would skip it for good.
            final = self.core.db.horizon.seq(conn)
            head = int(conn.execute(select(func.max(ct.changes.c.seq))).scalar() or 0)
            self.held = final is not None and final < head
            if specs:
                q = select(ct.changes).where(ct.changes.c.seq > lo)
                if final is not None:
                    q = q.where(ct.changes.c.seq <= final)
                rows = conn.execute(q.order_by(ct.changes.c.seq).limit(BATCH)).all()
                hi, n = (int(rows[-1].seq), len(rows)) if rows else (lo, 0)
                wanted = {typ for ts in specs.values() for s in ts for typ in s.events}
                wanted = set(matching.TYPES) if matching.ALL in wanted else wanted
                mine = [r for r in rows if r.workspace_id in specs]
                events = build.from_changes(conn, mine, wanted) + build.from_sla(conn, lo, hi, wanted)
                events.sort(key=lambda e: (e.seq, e.id))
                pairs = [
                    (s.id, e) for e in events for s in specs.get(e.workspace_id, []) if matching.matches(s, e)
                ]
            else:  # nothing could match: move past what is there without reading it
                hi, n = head if final is None else max(lo, min(head, final)), 0
        for s, at in expired:
            self.expiry.disable_trigger(s.workspace_id, s.id, s.owner.id, at)
        if hi > lo:
            self._advance(hi, pairs)
        return n

    def _expired(
        self, conn: Any, specs: dict[str, list[matching.TriggerSpec]]
    ) -> list[tuple[matching.TriggerSpec, datetime]]:
        """Take the triggers whose owner's token has expired out of `specs` (they match nothing from now on);
        returns them with that expiry, to be disabled."""
        now = self.core.clock.now()
        out: list[tuple[matching.TriggerSpec, datetime]] = []
        for ws, found in list(specs.items()):
            kept = []
            for s in found:
                at = self.expiry.expired(conn, s.owner.id, now)
                if at is None:
                    kept.append(s)
                else:
                    out.append((s, at))
            if kept:
                specs[ws] = kept
            else:
                del specs[ws]
        return out

    def _advance(self, hi: int, pairs: list[tuple[str, matching.Event]]) -> None:
        """Queue the matched deliveries and move the watermark in one transaction. With nothing to queue the
        watermark is stored at most every few seconds: a crash re-reads that much and queues nothing twice."""
        db, clock = self.core.db, self.core.clock
        if pairs or time.monotonic() - self._saved_at >= PERSIST_IDLE_WATERMARK:
            with db.tx() as tx:
                deliveries.enqueue(tx.conn, pairs, "live", clock.now())
                loops.write_watermark(tx.conn, self.name, hi, clock)
            self._saved_at = time.monotonic()
        self._watermark = hi

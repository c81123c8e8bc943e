"""The dispatcher: one background loop (core/loops.py) that reads the outbox and sends what is due.

Each turn: (1) read the change log past the watermark, build the events some enabled trigger asks for (and
the SLA events those changes recorded), match them, and queue deliveries and the new watermark in ONE
transaction — so a crash either queues a batch or not, and a re-read queues nothing twice; (2) hand due
deliveries to lanes in a thread pool, as many per trigger as events/lanes.py allows: more for a fast endpoint
with a backlog, one for a slow or failing one, so it never delays another trigger. A lane sends its batch over
a kept-alive connection, stores the outcomes in few transactions, and claims the trigger's next due deliveries
itself (starting sibling lanes when its trigger may have more).
Nothing is sent from a request: routes only queue.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.sql.elements import BindParameter

from deskbase.core import loops
from deskbase.core import tables as ct
from deskbase.core.app import Deskbase
from deskbase.events import build, deliveries, ingest, matching, retry, signing
from deskbase.events.expiry import OwnerExpiry
from deskbase.events.grouped import GroupWriter
from deskbase.events.lanes import Lanes, deal
from deskbase.events.sender import Result, Sender
from deskbase.events.tables import triggers, webhook_deliveries
from deskbase.events.triggers import Triggers

log = logging.getLogger(__name__)
NAME = "webhooks"
BATCH = 500
LANE_BATCH = 50  #: deliveries a lane claims at a time
RECORD_BATCH = LANE_BATCH  #: attempts stored per transaction …
RECORD_EVERY = 0.2  #: … or after this many seconds, whichever comes first
PERSIST_IDLE_WATERMARK = 5.0
#: How soon the loop looks again while the change log's horizon holds committed changes back.
HORIZON_POLL = 0.01
PRUNE_BATCHES = 20  #: pruning batches a turn at most (20,000 rows), while a backlog is left

_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
# Built once: a lane runs these for every batch.
_TRIGGER = select(triggers).where(
    triggers.c.workspace_id == bindparam("ws"), triggers.c.id == bindparam("tid")
)
_ROWS_OF = (
    select(webhook_deliveries)
    .where(webhook_deliveries.c.id.in_(_IDS))
    .order_by(webhook_deliveries.c.seq, webhook_deliveries.c.id)
)
_STATUS_OF = select(webhook_deliveries.c.id, webhook_deliveries.c.status).where(
    webhook_deliveries.c.id.in_(_IDS)
)
#: One attempt to store: (delivery row, attempted at, result, outcome, finished at).
Attempt = tuple[Any, datetime, Result, retry.Outcome, datetime]


class Dispatcher:
    def __init__(
        self,
        core: Deskbase,
        store: Triggers,
        sender: Sender,
        schedule: tuple[float, ...],
        disable_after: timedelta,
        retention: timedelta,
        concurrency: int,
        expiry: OwnerExpiry | None = None,
        max_inflight: int = 8,
        slow_seconds: float = 1.0,
    ) -> None:
        self.core = core
        self.expiry = expiry or OwnerExpiry(core)
        self.store = store
        self.sender = sender
        self.schedule = schedule
        self.disable_after = disable_after
        self.retention = retention
        self.loop = loops.Loop(core.db, core.clock, NAME, self.step, idle_seconds=1.0)
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, concurrency), thread_name_prefix="deskbase-webhook"
        )
        self._lock = threading.Lock()
        self._in_flight: dict[str, str] = {}  # delivery id -> trigger key
        self.lanes = Lanes(max(1, concurrency), max_inflight, slow_seconds)
        self._stopping = threading.Event()
        self._watermark: int | None = None
        self._held = False  #: the last turn stopped at the horizon with committed changes beyond it
        self._saved_at = time.monotonic()
        self._pruned_at: datetime | None = None
        self._random = random.Random()
        #: Some trigger was enabled at the last turn (read at `store.enabled_at` that generation): a commit
        #: wakes the loop only then, or once a trigger was enabled since. Otherwise each write would cost a
        #: turn of reads for nothing; the idle timer still moves the watermark on.
        self._may_match = True
        self._generation = -1
        self._recorder: GroupWriter[tuple[Any, list[Attempt]], bool] = GroupWriter(self._write_outcomes)
        core.hooks.on_commit(self._committed)

    # ---- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        self.loop.start()

    def stop(self) -> None:
        """Lanes finish the delivery in hand (at most the send timeout) and leave the rest queued."""
        self._stopping.set()
        self.loop.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.sender.close()

    def wake(self) -> None:
        self.loop.wake()

    def _committed(self, _entries: object) -> None:
        if self._may_match or self.store.generation != self._generation:
            self.loop.wake()

    # ---- one turn -----------------------------------------------------------------------------------
    def step(self) -> float | None:
        self.expiry.sweep(self.core.clock.now())
        n = self.fan_out()
        wait = self.send_due()
        self._prune()
        if n >= BATCH:
            return 0.0
        if self._held:  # committed changes wait behind one still in flight: look again soon
            return HORIZON_POLL if wait is None else min(wait, HORIZON_POLL)
        return wait

    def fan_out(self) -> int:
        """Queue deliveries for the next batch of changes; returns how many changes were read."""
        pairs: list[tuple[str, matching.Event]] = []
        with self.core.db.read() as conn:
            if self._watermark is None:
                self._watermark = loops.read_watermark(conn, NAME)
            lo = self._watermark
            generation = self.store.generation  # before the read: an enabling commit after it wakes us
            specs = self.store.enabled_specs(conn)
            expired = self._expired(conn, specs)
            self._may_match, self._generation = bool(specs), generation
            # Never past a change still in flight (core/horizon.py): the watermark would skip it for good.
            final = self.core.db.horizon.seq(conn)
            head = int(conn.execute(select(func.max(ct.changes.c.seq))).scalar() or 0)
            self._held = final is not None and final < head
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
                loops.write_watermark(tx.conn, NAME, hi, clock)
            self._saved_at = time.monotonic()
        self._watermark = hi

    def send_due(self) -> float | None:
        """Start lanes for triggers with due deliveries; returns the seconds until the next one is due (None:
        nothing queued)."""
        now = self.core.clock.now()
        with self.core.db.read() as conn:
            due = deliveries.due(conn, now, LANE_BATCH * self.lanes.base * 4)
            upcoming = deliveries.next_due(conn)
        with self._lock:
            by_key: dict[str, list[str]] = {}
            for row in due:
                if row.id not in self._in_flight:
                    by_key.setdefault(f"{row.workspace_id}/{row.trigger_id}", []).append(row.id)
            for key, ids in by_key.items():
                for part in deal(ids, self.lanes.room(key), LANE_BATCH):
                    self._start_lane(key, part)
        if upcoming is None:
            return None
        return max(0.0, (upcoming - self.core.clock.now()).total_seconds())

    def _start_lane(self, key: str, ids: list[str]) -> None:
        """(Under `_lock`.) Claim `ids` and run a lane of the trigger on them."""
        if self._stopping.is_set():
            return
        for i in ids:
            self._in_flight[i] = key
        self.lanes.started(key)
        try:
            self._pool.submit(self._lane, key, ids)
        except RuntimeError:  # the pool shut down meanwhile (stop): the deliveries stay queued
            for i in ids:
                self._in_flight.pop(i, None)
            self.lanes.finished(key)

    def idle(self) -> bool:
        with self._lock:
            return not self._in_flight

    # ---- a lane (in a worker thread) ----------------------------------------------------------------
    def _lane(self, key: str, ids: list[str]) -> None:
        """Send a batch of one trigger's due deliveries (heads of distinct per-record queues, so their order
        among themselves is free), then claim the trigger's next due ones itself rather than wait for the
        loop's next turn: a fast endpoint is fed as fast as it answers. Stops when its trigger's limit
        shrinks below its lanes (events/lanes.py); what it had not sent goes back to the queue."""
        retired = False
        try:
            while ids:
                try:
                    self._send_batch(key, ids)
                finally:
                    with self._lock:
                        for i in ids:
                            self._in_flight.pop(i, None)
                retired = self.lanes.retire(key)
                if retired:
                    break
                ids = self._claim_more(key)
        except Exception:
            log.exception("webhook lane %s failed unexpectedly", key)
        finally:
            if not retired:
                self.lanes.finished(key)
            self.loop.wake()

    def _claim_more(self, key: str) -> list[str]:
        """The lane's next batch; if its trigger may have more lanes now, sibling lanes take a share."""
        if self._stopping.is_set():
            return []
        ws, _, tid = key.partition("/")
        with self._lock:  # the query lists this trigger's claimed deliveries too: ask for that many more
            held = sum(1 for k in self._in_flight.values() if k == key)
        limit = held + LANE_BATCH * (1 + self.lanes.room(key))
        with self.core.db.read() as conn:
            due = deliveries.due_for_trigger(conn, ws, tid, self.core.clock.now(), limit)
        with self._lock:
            free = [r.id for r in due if r.id not in self._in_flight]
            # Leave the trigger's other lanes their share: a lane that runs dry ends, and with it the backlog
            # that keeps every lane busy (what events/lanes.py needs to see before it tries one more).
            share = -(-len(free) // max(1, self.lanes.window(key).running))
            share = LANE_BATCH if len(due) >= limit else share  # a full answer: more waits beyond it
            parts = deal(free, 1 + self.lanes.room(key), min(LANE_BATCH, share))
            ids = parts[0] if parts else []
            for i in ids:
                self._in_flight[i] = key
            for part in parts[1:]:
                self._start_lane(key, part)
        return ids

    def _send_batch(self, key: str, ids: list[str]) -> None:
        """Send and record; stops early when the trigger's limit shrinks below its lanes (the rest is left
        queued, and the lane asks `Lanes.retire`)."""
        clock = self.core.clock
        ws, _, tid = key.partition("/")
        with self.core.db.read() as conn:
            trig = conn.execute(_TRIGGER, {"ws": ws, "tid": tid}).first()
            rows = conn.execute(_ROWS_OF, {"ids": ids}).all()
            expired = None if trig is None else self.expiry.expired(conn, trig.owner_id, clock.now())
        if trig is None or not trig.enabled:
            return
        if expired is not None:  # its owner's read scope is gone: nothing more leaves with it
            self.expiry.disable_trigger(ws, tid, trig.owner_id, expired)
            return
        # Read afresh: the loop may have listed one as due just before an earlier attempt recorded its
        # failure (and a next_attempt_at in the future).
        now = clock.now()
        rows = [
            r
            for r in rows
            if r.status in deliveries.OPEN and r.next_attempt_at is not None and r.next_attempt_at <= now
        ]
        failing_since = trig.failing_since
        # Opened once a batch (a Fernet decryption each): a secret rotated out during the batch's second or
        # so still signs beside the new one, which receivers accept either way.
        secrets_ = self.store.signing_secrets(trig, clock.now())
        done: list[Attempt] = []
        flushed_at = time.monotonic()
        for row in rows:
            if self._stopping.is_set():
                break
            at = clock.now()
            body = row.payload.encode()
            headers = signing.headers(secrets_, row.event_id, int(at.timestamp()), body)
            result = self.sender.post(trig.url, headers, body)
            now = clock.now()
            out = retry.outcome(
                result.status,
                int(row.attempts) + 1,
                self.schedule,
                now,
                self._random.random(),
                retry.retry_after_seconds(result.retry_after, now),
                failing_since,
                self.disable_after,
            )
            failing_since = None if out.status == "delivered" else (failing_since or now)
            done.append((row, at, result, out, now))
            ok = result.status is not None and 200 <= result.status < 300
            if self.lanes.observe(key, ok, result.duration_ms / 1000):
                self.loop.wake()  # a new lane is allowed: the loop's next turn starts it
            surplus = self.lanes.surplus(key)
            # Results are stored in batches (one transaction for many), but soon: a slow endpoint's log
            # must not wait for the whole batch.
            if out.disable or len(done) >= RECORD_BATCH or time.monotonic() - flushed_at > RECORD_EVERY:
                disabled = self._record(trig, done)
                done, flushed_at = [], time.monotonic()
                if disabled:
                    return
            if surplus:
                break
        if done:
            self._record(trig, done)

    def _record(self, trig: Any, done: list[Attempt]) -> bool:
        """Store attempts and their outcomes, and the trigger's health (with other lanes' at about the same
        time: events/grouped.py); True if the trigger is now disabled."""
        return self._recorder.submit((trig, done))

    def _write_outcomes(self, batches: list[tuple[Any, list[Attempt]]]) -> list[bool]:
        """One transaction for the lanes' outcomes; per batch, True if its trigger is now disabled."""
        with self.core.db.tx() as tx:
            for key in sorted({(t.workspace_id, t.id) for t, _ in batches}):
                tx.lock(f"trigger:{key[0]}:{key[1]}")  # an admin's edit of the trigger takes turns
            ids = [r.id for _, done in batches for r, *_ in done]
            current = dict(tx.conn.execute(_STATUS_OF, {"ids": ids}).all())
            kept = [
                [item for item in done if current.get(item[0].id) in deliveries.OPEN] for _, done in batches
            ]
            deliveries.record(tx.conn, [item for part in kept for item in part])  # not finished meanwhile
            return [self._health(tx.conn, trig, part) for (trig, _), part in zip(batches, kept, strict=True)]

    def _health(self, conn: Any, trig: Any, kept: list[Attempt]) -> bool:
        """Store what the attempts say of the trigger's health; True if they disable it."""
        failing = trig.failing_since
        changes: dict[str, Any] = {}
        for _row, _at, _result, out, now in kept:
            failing = None if out.status == "delivered" else (failing or now)
            if out.disable:
                changes.update(enabled=False, disabled_reason=out.disable)
                log.warning("trigger %s/%s disabled: %s", trig.workspace_id, trig.id, out.disable)
        if failing != trig.failing_since:
            changes["failing_since"] = failing
        if changes:
            conn.execute(
                triggers.update()
                .where(triggers.c.workspace_id == trig.workspace_id, triggers.c.id == trig.id)
                .values(**changes)
            )
        return "enabled" in changes

    def _prune(self) -> None:
        """Forget deliveries and ingest-log entries past retention, a batch per short transaction (so writers
        never wait long) and at most `PRUNE_BATCHES` batches a turn. Once an hour while that keeps up; while a
        backlog is left (1,000 deliveries a second are 3.6 million an hour), every turn takes its share."""
        now = self.core.clock.now()
        if self._pruned_at is not None and now - self._pruned_at < deliveries.RETENTION_STEP:
            return
        before = now - self.retention
        left = False
        for prune in (deliveries.prune, ingest.prune):
            for _ in range(PRUNE_BATCHES):
                with self.core.db.tx() as tx:
                    full = prune(tx.conn, before) == deliveries.PRUNE_BATCH
                if not full:
                    break
            else:
                left = True
        if not left:
            self._pruned_at = now

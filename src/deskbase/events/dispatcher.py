"""The dispatcher: one background loop (core/loops.py) that reads the outbox and sends what is due.

Each turn: (1) queue the deliveries of the next changes (events/fanout.py); (2) hand due deliveries to lanes
in a thread pool, as many per trigger as events/lanes.py allows: more for a fast endpoint with a backlog, one
for a slow or failing one, so it never delays another trigger. A lane sends its batch over a kept-alive
connection, stores the outcomes in few transactions (events/outcomes.py), and claims the trigger's next due
deliveries itself (starting sibling lanes when its trigger may have more).
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

from sqlalchemy import bindparam, select
from sqlalchemy.sql.elements import BindParameter

from deskbase.core import loops
from deskbase.core.app import Deskbase
from deskbase.events import deliveries, fanout, ingest, retry, signing
from deskbase.events.expiry import OwnerExpiry
from deskbase.events.fanout import FanOut
from deskbase.events.lanes import Lanes, deal
from deskbase.events.outcomes import Attempt, Outcomes
from deskbase.events.sender import Sender
from deskbase.events.tables import triggers, webhook_deliveries
from deskbase.events.triggers import Triggers

log = logging.getLogger(__name__)
NAME = "webhooks"
LANE_BATCH = 50  #: deliveries a lane claims at a time
DUE_LIMIT = (
    LANE_BATCH * 8
)  #: due deliveries the loop lists per turn (triggers whose lanes are all busy left out)
RECORD_BATCH = LANE_BATCH  #: attempts stored per transaction …
RECORD_EVERY = 0.2  #: … or after this many seconds, whichever comes first
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
        self.fanout = FanOut(core, NAME, store, self.expiry)
        self.outcomes = Outcomes(core)
        self._pruned_at: datetime | None = None
        self._random = random.Random()
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
        if self.fanout.worth_a_turn():
            self.loop.wake()

    # ---- one turn -----------------------------------------------------------------------------------
    def step(self) -> float | None:
        self.expiry.sweep(self.core.clock.now())
        n = self.fanout.run()
        wait = self.send_due()
        self._prune()
        if n >= fanout.BATCH:
            return 0.0
        if self.fanout.held:  # committed changes wait behind one still in flight: look again soon
            return HORIZON_POLL if wait is None else min(wait, HORIZON_POLL)
        return wait

    def send_due(self) -> float | None:
        """Start lanes for triggers with due deliveries; returns the seconds until the next one is due (None:
        nothing queued)."""
        now = self.core.clock.now()
        busy = [(ws, tid) for ws, _, tid in (key.partition("/") for key in self.lanes.full())]
        with self.core.db.read() as conn:
            due = deliveries.due(conn, now, DUE_LIMIT, busy)
            upcoming = deliveries.next_due(conn)
        started = False
        with self._lock:
            by_key: dict[str, list[str]] = {}
            for row in due:
                if row.id not in self._in_flight:
                    by_key.setdefault(f"{row.workspace_id}/{row.trigger_id}", []).append(row.id)
            for key, ids in by_key.items():
                for part in deal(ids, self.lanes.room(key), LANE_BATCH):
                    self._start_lane(key, part)
                    started = True
        if upcoming is not None and upcoming <= now and not started and len(due) < DUE_LIMIT:
            # What is due is in a lane already or waits for a trigger whose lanes are all busy (a stuck
            # endpoint's queue): a lane's end wakes the loop. Turning until then would spin, taking the CPU
            # the other triggers and the writers need; only a later retry needs the timer.
            with self.core.db.read() as conn:
                upcoming = deliveries.next_due(conn, after=now)
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
                disabled = self.outcomes.store(trig, done)
                done, flushed_at = [], time.monotonic()
                if disabled:
                    return
            if surplus:
                break
        if done:
            self.outcomes.store(trig, done)

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

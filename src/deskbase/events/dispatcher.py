"""The dispatcher: one background loop (core/loops.py) that reads the outbox and sends what is due.

Each turn: (1) read the change log past the watermark, build the events some enabled trigger asks for (and
the SLA events those changes recorded), match them, and queue deliveries and the new watermark in ONE
transaction — so a crash either queues a batch or not, and a re-read queues nothing twice; (2) hand due
deliveries to a thread pool, at most `PER_TRIGGER` per trigger, so a slow or dead endpoint holds two
workers at most and never delays another trigger. Nothing is sent from a request: routes only queue.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from deskbase.core import loops
from deskbase.core import tables as ct
from deskbase.core.app import Deskbase
from deskbase.events import build, deliveries, ingest, matching, retry, signing
from deskbase.events.sender import Sender
from deskbase.events.tables import triggers, webhook_deliveries
from deskbase.events.triggers import Triggers

log = logging.getLogger(__name__)
NAME = "webhooks"
BATCH = 500
PER_TRIGGER = 2
PERSIST_IDLE_WATERMARK = 5.0


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
    ) -> None:
        self.core = core
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
        self._watermark: int | None = None
        self._saved_at = time.monotonic()
        self._pruned_at: datetime | None = None
        self._random = random.Random()
        core.hooks.on_commit(lambda _entries: self.loop.wake())

    # ---- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.sender.close()

    def wake(self) -> None:
        self.loop.wake()

    # ---- one turn -----------------------------------------------------------------------------------
    def step(self) -> float | None:
        n = self.fan_out()
        wait = self.send_due()
        self._prune()
        return 0.0 if n >= BATCH else wait

    def fan_out(self) -> int:
        """Queue deliveries for the next batch of changes; returns how many changes were read."""
        pairs: list[tuple[str, matching.Event]] = []
        with self.core.db.read() as conn:
            if self._watermark is None:
                self._watermark = loops.read_watermark(conn, NAME)
            lo = self._watermark
            specs = self.store.enabled_specs(conn)
            if specs:
                rows = conn.execute(
                    select(ct.changes).where(ct.changes.c.seq > lo).order_by(ct.changes.c.seq).limit(BATCH)
                ).all()
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
                hi, n = int(conn.execute(select(func.max(ct.changes.c.seq))).scalar() or 0), 0
        if hi > lo:
            self._advance(hi, pairs)
        return n

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
        """Start due deliveries; returns the seconds until the next one is due (None: nothing queued)."""
        now = self.core.clock.now()
        with self.core.db.read() as conn:
            due = deliveries.due(conn, now, 200)
            upcoming = deliveries.next_due(conn)
        with self._lock:
            per_trigger: dict[str, int] = {}
            for key in self._in_flight.values():
                per_trigger[key] = per_trigger.get(key, 0) + 1
            for row in due:
                key = f"{row.workspace_id}/{row.trigger_id}"
                if row.id in self._in_flight or per_trigger.get(key, 0) >= PER_TRIGGER:
                    continue
                self._in_flight[row.id] = key
                per_trigger[key] = per_trigger.get(key, 0) + 1
                self._pool.submit(self._attempt, row.id)
        if upcoming is None:
            return None
        return max(0.0, (upcoming - self.core.clock.now()).total_seconds())

    def idle(self) -> bool:
        with self._lock:
            return not self._in_flight

    # ---- one attempt (in a worker thread) -----------------------------------------------------------
    def _attempt(self, delivery_id: str) -> None:
        try:
            self._send(delivery_id)
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", delivery_id)
        finally:
            with self._lock:
                self._in_flight.pop(delivery_id, None)
            self.loop.wake()

    def _send(self, delivery_id: str) -> None:
        clock = self.core.clock
        d = webhook_deliveries
        with self.core.db.read() as conn:
            row = conn.execute(select(d).where(d.c.id == delivery_id)).first()
            # Read afresh: the loop may have listed it as due just before an earlier attempt recorded its
            # failure (and a next_attempt_at in the future).
            due_now = (
                row is not None and row.next_attempt_at is not None and row.next_attempt_at <= clock.now()
            )
            if row is None or row.status not in deliveries.OPEN or not due_now:
                return
            trig = conn.execute(
                select(triggers).where(
                    triggers.c.workspace_id == row.workspace_id, triggers.c.id == row.trigger_id
                )
            ).first()
        if trig is None or not trig.enabled:
            return
        at = clock.now()
        body = row.payload.encode()
        headers = signing.headers(
            self.store.signing_secrets(trig, at), row.event_id, int(at.timestamp()), body
        )
        result = self.sender.post(trig.url, headers, body)
        now = clock.now()
        out = retry.outcome(
            result.status,
            int(row.attempts) + 1,
            self.schedule,
            now,
            self._random.random(),
            retry.retry_after_seconds(result.retry_after, now),
            trig.failing_since,
            self.disable_after,
        )
        with self.core.db.tx() as tx:
            current = tx.conn.execute(select(d.c.status).where(d.c.id == delivery_id)).scalar()
            if current not in deliveries.OPEN:
                return  # deleted or finished meanwhile
            deliveries.record(tx.conn, row, at, result, out, now)
            changes: dict[str, Any] = {}
            if out.status == "delivered":
                if trig.failing_since is not None:
                    changes["failing_since"] = None
            elif trig.failing_since is None:
                changes["failing_since"] = now
            if out.disable:
                changes.update(enabled=False, disabled_reason=out.disable)
                log.warning("trigger %s/%s disabled: %s", trig.workspace_id, trig.id, out.disable)
            if changes:
                tx.conn.execute(
                    triggers.update()
                    .where(triggers.c.workspace_id == trig.workspace_id, triggers.c.id == trig.id)
                    .values(**changes)
                )

    def _prune(self) -> None:
        now = self.core.clock.now()
        if self._pruned_at is not None and now - self._pruned_at < deliveries.RETENTION_STEP:
            return
        self._pruned_at = now
        with self.core.db.tx() as tx:
            deliveries.prune(tx.conn, now - self.retention)
            ingest.prune(tx.conn, now - self.retention)

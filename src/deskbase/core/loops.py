"""One helper for background loops: a thread that runs a step, wakes on commit or on a timer, holds a lease in
the primary store so one process runs it, and keeps a watermark there so a restart resumes where it stopped.

A step returns how many seconds it may sleep (0: more work is waiting; None: nothing scheduled, sleep the idle
interval). A commit wakes the loop early. The lease is a row of `loop_state` renewed on every turn; another
process takes it over when it expires, or at once when its holder was a process on this host that is gone
(a kill -9 leaves a lease nobody renews).
Two loops of one name in one process (two cores on one store) exclude each other like two processes.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from deskbase.core.clock import Clock
from deskbase.core.db import Database, Tx
from deskbase.core.tables import loop_state

log = logging.getLogger(__name__)
#: Short enough that a worker on another host takes over within 10 s of the holder dying (renewed at half).
LEASE = timedelta(seconds=9)
Step = Callable[[], float | None]


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _gone(owner: str) -> bool:
    """Was the lease held by a process on this host that no longer exists?"""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _ensure(conn: Connection, name: str, clock: Clock) -> None:
    if conn.execute(select(loop_state.c.name).where(loop_state.c.name == name)).first() is None:
        conn.execute(insert(loop_state).values(name=name, watermark=0, updated_at=clock.now()))


def read_watermark(conn: Connection, name: str) -> int:
    value = conn.execute(select(loop_state.c.watermark).where(loop_state.c.name == name)).scalar()
    return int(value or 0)


def write_watermark(conn: Connection, name: str, value: int, clock: Clock) -> None:
    """Inside the caller's write transaction, so the watermark commits with what the loop wrote."""
    _ensure(conn, name, clock)
    conn.execute(
        update(loop_state).where(loop_state.c.name == name).values(watermark=value, updated_at=clock.now())
    )


def take_lease(db: Database, name: str, owner: str, clock: Clock) -> bool:
    """Take or renew the loop's lease; False while another live process holds it."""
    now = clock.now()

    def attempt(tx: Tx) -> bool:
        _ensure(tx.conn, name, clock)  # two first-ever takers meet on the key; `run` retries the loser
        # Locked: two processes whose leases expired together must not both read it free.
        row = tx.conn.execute(select(loop_state).where(loop_state.c.name == name).with_for_update()).one()
        free = (
            row.owner in (None, owner)
            or row.lease_until is None
            or row.lease_until <= now
            or _gone(row.owner)
        )
        if free:
            tx.conn.execute(
                update(loop_state)
                .where(loop_state.c.name == name)
                .values(owner=owner, lease_until=now + LEASE, updated_at=now)
            )
        return free

    return db.run(attempt)


def live_holders(db: Database, clock: Clock) -> list[str]:
    """Loops whose lease a live process holds now: a running server (or worker) on this store. Commands that
    open a data directory directly check this first (one process owns the directory)."""
    now = clock.now()
    with db.read() as conn:
        rows = conn.execute(
            select(loop_state.c.name, loop_state.c.owner, loop_state.c.lease_until).where(
                loop_state.c.owner.is_not(None)
            )
        ).all()
    return sorted(
        r.name for r in rows if r.lease_until is not None and r.lease_until > now and not _gone(r.owner)
    )


def release_lease(db: Database, name: str, owner: str) -> None:
    with db.tx() as tx:
        tx.conn.execute(
            update(loop_state)
            .where(loop_state.c.name == name, loop_state.c.owner == owner)
            .values(owner=None, lease_until=None)
        )


class Loop:
    """Run `step` in a background thread under the lease `name` until `stop`."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        name: str,
        step: Step,
        idle_seconds: float = 1.0,
        min_interval: float = 0.05,
    ) -> None:
        """`min_interval`: the least time between two steps, so a burst of commits is one step, not many."""
        self.db = db
        self.clock = clock
        self.name = name
        self.step = step
        self.idle_seconds = idle_seconds
        self.min_interval = min_interval
        self.owner = process_owner()
        self._held_until: datetime | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Run the next step now (an after-commit hook calls this)."""
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"deskbase-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
            try:
                release_lease(self.db, self.name, self.owner)
            except Exception:
                log.exception("could not release the %s lease", self.name)

    def _leased(self) -> bool:
        """Renew the lease when half of it is used up (not on every turn: that would be a write per second)."""
        now = self.clock.now()
        if self._held_until is not None and now < self._held_until - LEASE / 2:
            return True
        self._held_until = now + LEASE if take_lease(self.db, self.name, self.owner, self.clock) else None
        return self._held_until is not None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                wait = self.step() if self._leased() else None
            except Exception:
                log.exception("%s step failed; retrying", self.name)
                wait = self.idle_seconds
            timeout = self.idle_seconds if wait is None else min(max(wait, 0.0), self.idle_seconds)
            if self._stop.wait(self.min_interval):
                break
            if timeout > self.min_interval:
                self._wake.wait(timeout - self.min_interval)

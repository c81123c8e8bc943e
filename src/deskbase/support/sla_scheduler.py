"""The SLA scheduler: records warnings and breaches at their due instants and runs escalation steps once.

A background loop (core/loops.py: a lease, so exactly one process records each breach) sleeps until the
earliest ``next_due`` of any ticket (the index ``sla_tickets.next_due``), until a write stores a sooner one
(``wake_for``), or ``poll_seconds`` at most (a due instant another process stored). Due tickets are replayed;
escalation steps go through the unit of work like any other write.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.changelog import Change
from deskbase.core.db import Tx
from deskbase.core.errors import ValidationFailed
from deskbase.core.loops import Loop
from deskbase.core.records import lock_rows
from deskbase.support import tables as ts
from deskbase.support.sla_config import SlaConfig
from deskbase.support.sla_facts import author_match, config_versions_in
from deskbase.support.sla_replay import SLA_ACTOR, Replayed, pending_steps, replay, store
from deskbase.support.sla_state import Writer, load, step_key

log = logging.getLogger(__name__)


class SlaScheduler:
    """The scheduler thread and one turn of it (``run_due``); the write hook tells it of sooner due instants."""

    def __init__(self, core: Deskbase, config: SlaConfig) -> None:
        self.core = core
        self.config = config
        #: the instant the scheduler sleeps until; None while it is awake (then every new due instant wakes it)
        self._sleep_until: datetime | None = None
        self.loop = Loop(core.db, core.clock, "sla-scheduler", self._turn, idle_seconds=1.0)

    @property
    def poll_seconds(self) -> float:
        """The longest sleep: a due instant another process stored is noticed within it."""
        return self.loop.idle_seconds

    @poll_seconds.setter
    def poll_seconds(self, value: float) -> None:
        self.loop.idle_seconds = value

    def wake_for(self, tx: Tx, due: datetime | None) -> None:
        """Wake the scheduler after the commit if `due` is sooner than it planned to look (not on every commit:
        a busy store would otherwise run two scheduler queries per write)."""
        sleeping_until = self._sleep_until
        if due is not None and (sleeping_until is None or due < sleeping_until):
            tx.after_commit(self.loop.wake)

    def run_due(self, limit: int = 500) -> int:
        """Re-evaluate tickets whose next warning, breach or escalation is due (in due order, a workspace batch
        per transaction), and run due escalation steps once. Each batch is a change (`entity="sla"`), so the
        audit trail and the replica see it."""
        now = self.core.clock.now()
        st = ts.sla_tickets
        with self.core.db.read() as conn:
            due = conn.execute(
                select(st.c.workspace_id, st.c.ticket_id)
                .where(st.c.next_due <= now)
                .order_by(st.c.next_due)
                .limit(limit)
            ).all()
        by_ws: dict[str, list[str]] = defaultdict(list)
        for ws, tid in due:
            by_ws[ws].append(tid)
        for ws, ids in by_ws.items():
            try:
                self._tick_many(ws, ids, now)
            except Exception:
                log.exception("SLA re-evaluation of %d tickets in %s failed", len(ids), ws)
        return len(due)

    def _tick_many(self, workspace_id: str, ticket_ids: list[str], now: datetime) -> None:
        """Replay the due tickets (a tick may find escalation steps from before their checkpoints), run
        pending steps through the unit of work, and store the rest."""
        with self.core.db.tx() as tx:
            conn = tx.conn
            # As any write of these tickets: SLA settings held still, each ticket's row locked while its
            # state is recomputed (a concurrent reply waits, then folds onto what this stores).
            self.core.workspaces.hold(tx, workspace_id)
            lock_rows(conn, workspace_id, "tickets", ticket_ids)
            # A reply that committed after the due list was read carries a later instant than `now`: evaluated
            # as of the older instant its fulfilment would be retracted until the next tick.
            now = max(now, self.core.clock.now())
            configs = config_versions_in(conn, workspace_id)
            results = replay(self.config, conn, workspace_id, ticket_ids, now, configs)
            gone = [tid for tid in ticket_ids if tid not in results]
            if gone:
                conn.execute(
                    delete(ts.sla_tickets).where(
                        ts.sla_tickets.c.workspace_id == workspace_id, ts.sla_tickets.c.ticket_id.in_(gone)
                    )
                )
            if not results:
                return
            change = Change(
                workspace_id,
                "sla",
                "tickets",
                ticket_ids[0] if len(ticket_ids) == 1 else "*",
                "evaluate",
                {
                    "tickets": sorted(results)[:100],
                    "count": len(results),
                    "events": [
                        dict(e.to_dict(), ticket_id=tid)
                        for tid, r in results.items()
                        for e in r.fold.events
                        if e.at > now - timedelta(minutes=5)
                    ][-50:],
                },
                SLA_ACTOR.id,
                SLA_ACTOR.name,
                now,
                source=SLA_ACTOR.source,
            )
            self.core.emit(tx, [change], run_hooks=False)
            rows = load(conn, workspace_id, list(results))
            plain: dict[str, Replayed] = {}
            for tid, r in results.items():
                steps = pending_steps(conn, workspace_id, tid, r.fold)
                if not steps:
                    plain[tid] = r
                    continue
                for e in steps:
                    conn.execute(
                        insert(ts.sla_escalations).values(
                            workspace_id=workspace_id, ticket_id=tid, step_key=step_key(e), done_at=now
                        )
                    )
                patch = escalation_patch(steps, self._ticket_data(conn, workspace_id, tid))
                if patch:
                    from deskbase.core.writer import UnitOfWork

                    uow = UnitOfWork(self.core, tx, workspace_id, SLA_ACTOR)
                    try:
                        uow.patch_record("tickets", tid, patch, None)
                    except ValidationFailed:
                        # A step naming someone who is no longer an agent: its other actions still run.
                        log.warning(
                            "SLA escalation of %s/%s: %r is not an agent; not assigned",
                            workspace_id,
                            tid,
                            patch.pop("assignee", None),
                        )
                        if not patch:
                            plain[tid] = r
                            continue
                        uow.patch_record("tickets", tid, patch, None)
                    uow.flush()  # the in-transaction hook re-evaluates and stores this ticket
                else:
                    plain[tid] = r
            writer = Writer(conn, workspace_id, change.seq, now)
            store(writer, plain, rows, configs, author_match(conn, workspace_id))
            writer.flush()

    def _ticket_data(self, conn: Connection, workspace_id: str, ticket_id: str) -> dict[str, Any]:
        row = conn.execute(
            select(t.records.c.data).where(
                t.records.c.workspace_id == workspace_id,
                t.records.c.collection == "tickets",
                t.records.c.id == ticket_id,
            )
        ).scalar()
        return row or {}

    def next_wakeup(self) -> datetime | None:
        st = ts.sla_tickets
        with self.core.db.read() as conn:
            return conn.execute(
                select(st.c.next_due).where(st.c.next_due.is_not(None)).order_by(st.c.next_due).limit(1)
            ).scalar()

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    def _turn(self) -> float:
        """Run what is due, then sleep until the earliest due instant (so breaches are recorded on time), until
        a write stores a sooner one, or for `poll_seconds` at most (a due instant set by another process)."""
        self._sleep_until = None
        self.run_due()
        nxt = self.next_wakeup()
        now = self.core.clock.now()
        cap = self.poll_seconds
        wait = cap if nxt is None else max(0.0, min(cap, (nxt - now).total_seconds()))
        if wait > 0:
            self._sleep_until = now + timedelta(seconds=wait)
        return wait


def escalation_patch(pending: Iterable[Any], ticket: dict[str, Any]) -> dict[str, Any]:
    """The merge patch the pending escalation steps ask for (set priority/assignee, add tags)."""
    patch: dict[str, Any] = {}
    tags = list(ticket.get("tags") or [])
    for e in pending:
        actions = e.details.get("actions") or {}
        if actions.get("set_priority"):
            patch["priority"] = actions["set_priority"]
        if actions.get("set_assignee"):
            patch["assignee"] = actions["set_assignee"]
        for tag in actions.get("add_tags") or []:
            if tag not in tags:
                tags.append(tag)
    if tags != list(ticket.get("tags") or []):
        patch["tags"] = tags
    return {k: v for k, v in patch.items() if ticket.get(k) != v}

"""Keeps SLA state and response metrics current: inside every write transaction that affects a ticket, a
scheduler that records warnings and breaches at their due instants and runs escalations once, and the reads
adapters need (delegated to sla_reads / sla_queue).

Evaluation is the pure fold in evaluate.py. A write continues the ticket's stored checkpoint with the new input
alone (a ticket version, a newly linked message): no history is read, and only rows that changed are written.
A full replay (sla_facts gathers the history) is kept for what a checkpoint cannot absorb: the ticket's first
evaluation, a back-dated input, a removed or edited message or link, a customer change, a configuration change
(which re-bases running clocks), `rebuild` and the scheduler. Outputs live in derived tables (`sla_tickets`,
`sla_instances`, `sla_events`) versioned by the change that caused them, which is how they reach the replica.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.changelog import Change
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.support.evaluate import Fold, Message, TicketVersion, fold, resume
from deskbase.support.sla_config import ConfigVersion, SlaConfig
from deskbase.support.sla_facts import (
    Gathered,
    Timeline,
    author_match,
    config_mark,
    config_versions_in,
    customer_of,
    gather_many,
    message,
    records,
    resolve_eras,
    timeline,
)
from deskbase.support.sla_queue import SlaQueue
from deskbase.support.sla_reads import SlaReads
from deskbase.support.sla_state import Saved, TicketRow, Writer, load, step_key, touched

log = logging.getLogger(__name__)
SLA_ACTOR = Actor(id="system:sla", name="SLA scheduler", is_admin=True)


@dataclass
class _Input:
    """What one write brings to one ticket: new versions, newly linked responses, or a reason to replay."""

    versions: list[TicketVersion] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    replay: bool = False


@dataclass
class _Replayed:
    fold: Fold
    timeline: Timeline
    gathered: Gathered


class SlaService:
    def __init__(self, core: Deskbase) -> None:
        self.core = core
        self.config = SlaConfig(core)
        self.reads = SlaReads(core, self.config)
        self._queue = SlaQueue(core)
        self._stop = threading.Event()
        self._wake = threading.Event()
        #: the instant the scheduler sleeps until; None while it is awake (then every new due instant wakes it)
        self._sleep_until: datetime | None = None
        #: the longest sleep: a due instant another process stored is noticed within it
        self.poll_seconds = 1.0
        self._thread: threading.Thread | None = None
        core.hooks.on_change_in_tx(self._on_changes)
        core.hooks.on_read("tickets", self._on_ticket_read)

    # ---- the write hook ---------------------------------------------------------------------------
    def _on_changes(self, tx: Tx, changes: list[Change]) -> None:
        """Bring every ticket a write touched up to date, inside the write's own transaction."""
        work: dict[str, dict[str, _Input]] = defaultdict(lambda: defaultdict(_Input))
        version: dict[str, int] = {}
        created: dict[str, set[str]] = defaultdict(set)
        edited: dict[str, set[str]] = defaultdict(set)
        customers: dict[str, set[str]] = defaultdict(set)
        config_changed: set[str] = set()
        for c in changes:
            ws = c.workspace_id
            version[ws] = max(version.get(ws, 0), c.seq)
            img = c.data or {}
            if c.entity == "record" and c.collection == "tickets":
                work[ws][c.entity_id].versions.append(
                    TicketVersion(c.at, img.get("data") or {}, bool(img.get("deleted")))
                )
            elif c.entity == "record" and c.collection == "responses":
                (created if c.op == "create" else edited)[ws].add(c.entity_id)
            elif c.entity == "record" and c.collection == "customers":
                customers[ws].add(c.entity_id)
            elif c.entity == "relationship" and c.collection in ("has_response", "submitted_by"):
                if img.get("source_collection") == "tickets":
                    w = work[ws][img["source_id"]]
                    if c.collection == "has_response" and c.op == "create" and not img.get("deleted"):
                        w.responses.append(img["target_id"])
                    else:  # a link removed or a customer changed rewrites the past
                        w.replay = True
            elif c.entity in ("sla_policy", "sla_calendar"):
                config_changed.add(ws)
        conn = tx.conn
        st = t.sla_tickets
        for ws, ids in edited.items():
            # An edited or removed message may move in time or change kind: replay its ticket.
            for tid in self._linked(conn, ws, "has_response", ids - created[ws]):
                work[ws][tid].replay = True
        now = self.core.clock.now()
        for ws, ids in customers.items():
            linked = self._linked(conn, ws, "submitted_by", ids)
            if not linked:
                continue
            # Messages are classified by the customer, and policies may match on it: the stored checkpoints
            # of its tickets no longer stand. Running clocks are replayed now; the rest at their next write.
            running = conn.execute(
                select(st.c.ticket_id).where(
                    st.c.workspace_id == ws, st.c.ticket_id.in_(linked), st.c.running > 0
                )
            ).scalars()
            for tid in running:
                work[ws][tid].replay = True
            conn.execute(
                update(st).where(st.c.workspace_id == ws, st.c.ticket_id.in_(linked)).values(checkpoint=None)
            )
        dues: list[datetime] = []
        for ws in config_changed:
            # Running clocks re-base on the new version: the scheduler re-evaluates them right away.
            conn.execute(update(st).where(st.c.workspace_id == ws, st.c.running > 0).values(next_due=now))
            dues.append(now)
        for ws, inputs in work.items():
            configs = config_versions_in(conn, ws)
            rows = load(conn, ws, list(inputs))
            writer = Writer(conn, ws, version[ws], now)
            match = author_match(conn, ws)
            replay = [
                tid
                for tid, w in inputs.items()
                if w.replay or not self._continue(writer, tid, w, rows.get(tid), configs, match)
            ]
            if replay:
                self._store(
                    writer, self._replay(conn, ws, sorted(replay), now, configs), rows, configs, match
                )
            writer.flush()
            due = writer.earliest_due()
            if due is not None:
                dues.append(due)
        self._wake_for(tx, min(dues, default=None))

    def _wake_for(self, tx: Tx, due: datetime | None) -> None:
        """Wake the scheduler after the commit if `due` is sooner than it planned to look (not on every commit:
        a busy store would otherwise run two scheduler queries per write)."""
        sleeping_until = self._sleep_until
        if due is not None and (sleeping_until is None or due < sleeping_until):
            tx.after_commit(self._wake.set)

    def _linked(
        self, conn: Connection, workspace_id: str, rel_type: str, targets: Iterable[str]
    ) -> list[str]:
        rel = t.relationships
        ids = list(targets)
        if not ids:
            return []
        return list(
            conn.execute(
                select(rel.c.source_id).where(
                    rel.c.workspace_id == workspace_id,
                    rel.c.rel_type == rel_type,
                    rel.c.source_collection == "tickets",
                    rel.c.target_id.in_(ids),
                    rel.c.deleted.is_(False),
                )
            ).scalars()
        )

    def _continue(
        self,
        writer: Writer,
        ticket_id: str,
        w: _Input,
        row: TicketRow | None,
        configs: list[ConfigVersion],
        match: list[str],
    ) -> bool:
        """Advance the ticket's stored checkpoint by this write's inputs alone; False when it cannot stand
        (none stored, configuration or classification changed, an input sorts before it): replay instead."""
        conn, workspace_id = writer.conn, writer.workspace_id
        saved = row.saved if row is not None else None
        if saved is None or saved.config != config_mark(configs):
            return False
        eras = resolve_eras(self.config, workspace_id, saved.eras, configs)
        if saved.match != match or eras is None:
            return False
        messages: list[Message] = []
        last = saved.message
        if w.responses:
            found = records(conn, workspace_id, "responses", w.responses)
            if len(found) != len(set(w.responses)):
                return False
            customer = customer_of(conn, workspace_id, ticket_id)
            messages = sorted(
                (message(r, None, customer, match) for r in found.values()), key=lambda m: (m.at, m.id)
            )
            for m in messages:
                # A replay orders messages by (at, id): a continuation must append in that same order.
                if last is not None and (m.at, m.id) <= (datetime.fromisoformat(last[0]), last[1]):
                    return False
                last = [m.at.isoformat(), m.id]
        checkpoint = saved.checkpoint()
        try:
            f = resume(checkpoint, w.versions, messages, eras, writer.now)
        except ValueError:  # Backdated, or an input the replay must judge
            return False
        pending = bool(self._pending(conn, workspace_id, ticket_id, f, stored=saved.pending))
        fresh = None
        if f.checkpoint is not None:
            fresh = Saved(
                dict(f.checkpoint.state),
                saved.config,
                match,
                saved.eras,
                saved.explanation,
                last,
                *touched(f),
                pending=pending,
            )
        old = writer.known_rows(ticket_id, (saved.instances, saved.events))
        writer.add(ticket_id, f, fresh, row, old, before=checkpoint.instances_before, pending=pending)
        return True

    def _replay(
        self,
        conn: Connection,
        workspace_id: str,
        ticket_ids: list[str],
        now: datetime,
        configs: list[ConfigVersion],
    ) -> dict[str, _Replayed]:
        out = {}
        for tid, g in gather_many(conn, workspace_id, ticket_ids).items():
            tl = timeline(self.config, workspace_id, g, configs)
            out[tid] = _Replayed(fold(g.facts, tl.eras, now), tl, g)
        return out

    def _store(
        self,
        writer: Writer,
        replayed: dict[str, _Replayed],
        rows: dict[str, TicketRow],
        configs: list[ConfigVersion],
        match: list[str],
    ) -> None:
        """Store replays by difference against every row of each ticket, with a fresh checkpoint."""
        conn, workspace_id = writer.conn, writer.workspace_id
        stored = writer.stored_rows([tid for tid in replayed if tid in rows])
        for tid, r in replayed.items():
            f, messages = r.fold, r.gathered.facts.messages
            pending = bool(self._pending(conn, workspace_id, tid, f))
            saved = None
            if f.checkpoint is not None:
                last = [messages[-1].at.isoformat(), messages[-1].id] if messages else None
                saved = Saved(
                    dict(f.checkpoint.state),
                    config_mark(configs),
                    match,
                    r.timeline.refs,
                    r.timeline.explanation,
                    last,
                    *touched(f),
                    pending=pending,
                )
            writer.add(tid, f, saved, rows.get(tid), stored.get(tid, ({}, {})), before=None, pending=pending)

    def _pending(
        self, conn: Connection, workspace_id: str, ticket_id: str, f: Fold, *, stored: bool = False
    ) -> list[Any]:
        """Escalation steps not yet run (the scheduler runs each step once) among the fold's events, and with
        ``stored`` among the stored events before them (a continued fold re-makes only the later ones)."""
        steps: list[Any] = [e for e in f.events if e.kind == "escalate"]
        if stored:
            se = t.sla_events
            steps += [
                r
                for r in conn.execute(
                    select(se.c.event_key, se.c.metric, se.c.cycle, se.c.details).where(
                        se.c.workspace_id == workspace_id,
                        se.c.ticket_id == ticket_id,
                        se.c.kind == "escalate",
                        se.c.deleted.is_(False),
                    )
                )
                if int(r.event_key.split(":", 1)[0]) < f.offset
            ]
        if not steps:
            return []
        done = set(
            conn.execute(
                select(t.sla_escalations.c.step_key).where(
                    t.sla_escalations.c.workspace_id == workspace_id,
                    t.sla_escalations.c.ticket_id == ticket_id,
                )
            ).scalars()
        )
        return [e for e in steps if step_key(e) not in done]

    # ---- reads ------------------------------------------------------------------------------------
    def ticket_view(self, workspace_id: str, ticket_id: str) -> dict[str, Any]:
        return self.reads.ticket_view(workspace_id, ticket_id)

    def _on_ticket_read(self, workspace_id: str, record: dict[str, Any]) -> dict[str, Any]:
        return self.reads.ticket_state(workspace_id, record["id"])

    def clocks(self, workspace_id: str, ticket_ids: list[str]) -> dict[str, dict[str, Any]]:
        return self.reads.clocks(workspace_id, ticket_ids)

    def queue(
        self,
        workspace_id: str,
        view: str,
        filters: dict[str, Any],
        limit: int,
        cursor: str | None,
        count: bool = True,
    ) -> dict[str, Any]:
        return self._queue.queue(workspace_id, view, filters, limit, cursor, count)

    def at_risk(self, workspace_id: str, within: timedelta, limit: int = 50) -> list[dict[str, Any]]:
        return self.reads.at_risk(workspace_id, within, limit)

    def attainment(self, workspace_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return self.reads.attainment(workspace_id, start, end)

    def simulate(
        self, workspace_id: str, candidate: dict[str, Any], start: datetime, end: datetime, limit: int = 5000
    ) -> dict[str, Any]:
        return self.reads.simulate(workspace_id, candidate, start, end, limit)

    # ---- replay of everything -----------------------------------------------------------------------
    def rebuild(self, workspace_id: str, batch: int = 500) -> int:
        """Recompute every ticket's SLA state from the change log (derived state is always replayable).
        Each batch of tickets is one transaction and one `sla` change entry, so the replica follows."""
        r = t.records
        now = self.core.clock.now()
        last, total = "", 0
        while True:
            with self.core.db.read() as conn:
                ids = list(
                    conn.execute(
                        select(r.c.id)
                        .where(r.c.workspace_id == workspace_id, r.c.collection == "tickets", r.c.id > last)
                        .order_by(r.c.id)
                        .limit(batch)
                    ).scalars()
                )
            if not ids:
                return total
            with self.core.db.tx() as tx:
                change = Change(
                    workspace_id,
                    "sla",
                    "tickets",
                    "*",
                    "rebuild",
                    {"tickets": len(ids)},
                    SLA_ACTOR.id,
                    SLA_ACTOR.name,
                    now,
                )
                self.core.emit(tx, [change], run_hooks=False)
                configs = config_versions_in(tx.conn, workspace_id)
                replayed = self._replay(tx.conn, workspace_id, ids, now, configs)
                rows = load(tx.conn, workspace_id, ids)
                writer = Writer(tx.conn, workspace_id, change.seq, now)
                self._store(writer, replayed, rows, configs, author_match(tx.conn, workspace_id))
                writer.flush()
            total += len(ids)
            last = ids[-1]

    # ---- the scheduler ----------------------------------------------------------------------------
    def run_due(self, limit: int = 500) -> int:
        """Re-evaluate tickets whose next warning, breach or escalation is due (in due order, a workspace batch
        per transaction), and run due escalation steps once. Each batch is a change (`entity="sla"`), so the
        audit trail and the replica see it."""
        now = self.core.clock.now()
        st = t.sla_tickets
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
            configs = config_versions_in(conn, workspace_id)
            results = self._replay(conn, workspace_id, ticket_ids, now, configs)
            gone = [tid for tid in ticket_ids if tid not in results]
            if gone:
                conn.execute(
                    delete(t.sla_tickets).where(
                        t.sla_tickets.c.workspace_id == workspace_id, t.sla_tickets.c.ticket_id.in_(gone)
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
            )
            self.core.emit(tx, [change], run_hooks=False)
            rows = load(conn, workspace_id, list(results))
            plain: dict[str, _Replayed] = {}
            for tid, r in results.items():
                pending = self._pending(conn, workspace_id, tid, r.fold)
                if not pending:
                    plain[tid] = r
                    continue
                for e in pending:
                    conn.execute(
                        insert(t.sla_escalations).values(
                            workspace_id=workspace_id, ticket_id=tid, step_key=step_key(e), done_at=now
                        )
                    )
                patch = escalation_patch(pending, self._ticket_data(conn, workspace_id, tid))
                if patch:
                    from deskbase.core.writer import UnitOfWork

                    uow = UnitOfWork(self.core, tx, workspace_id, SLA_ACTOR)
                    uow.patch_record("tickets", tid, patch, None)
                    uow.flush()  # the in-transaction hook re-evaluates and stores this ticket
                else:
                    plain[tid] = r
            writer = Writer(conn, workspace_id, change.seq, now)
            self._store(writer, plain, rows, configs, author_match(conn, workspace_id))
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
        st = t.sla_tickets
        with self.core.db.read() as conn:
            return conn.execute(
                select(st.c.next_due).where(st.c.next_due.is_not(None)).order_by(st.c.next_due).limit(1)
            ).scalar()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="deskbase-sla", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        """Sleep until the earliest due instant (so breaches are recorded on time), until a write stores a
        sooner one, or for `poll_seconds` at most (a due instant set by another process)."""
        while not self._stop.is_set():
            self._sleep_until = None
            self._wake.clear()
            try:
                self.run_due()
                nxt = self.next_wakeup()
            except Exception:
                log.exception("SLA scheduler step failed")
                nxt = None
            now = self.core.clock.now()
            cap = self.poll_seconds
            wait = cap if nxt is None else max(0.0, min(cap, (nxt - now).total_seconds()))
            if wait > 0:
                self._sleep_until = now + timedelta(seconds=wait)
                self._wake.wait(timeout=wait)


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

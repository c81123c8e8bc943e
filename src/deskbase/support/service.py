"""Keeps SLA state and response metrics current inside every write transaction that affects a ticket, and is
the support domain's one SLA object for adapters: reads (sla_reads / sla_queue), full replay and rebuild
(sla_replay) and the scheduler (sla_scheduler) hang off it.

Evaluation is the pure fold in evaluate.py. A write continues the ticket's stored checkpoint with the new input
alone (a ticket version, a newly linked message): no history is read, and only rows that changed are written.
A full replay (sla_facts gathers the history) is kept for what a checkpoint cannot absorb: the ticket's first
evaluation (folded from the write's own versions, nothing read back, when that write made the ticket alone), a
back-dated input, a removed or edited message or link, a customer change, a configuration change (which
re-bases running clocks), `rebuild` and the scheduler. Outputs live in derived tables (`sla_tickets`,
`sla_instances`, `sla_events`) versioned by the change that caused them, which is how they reach the replica.

Concurrent writers (PostgreSQL): a ticket's state is read and written only while its record's row is locked —
by the unit of work when the write changed the ticket or a link from it, by `lock_rows` when the ticket was
found through a message or a customer — so two writes of one ticket fold in turn, never from the same
checkpoint. SLA settings change under the workspace's exclusive lock, which record writes hold shared.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.changelog import Change
from deskbase.core.db import Tx
from deskbase.core.records import lock_rows
from deskbase.support import sla_replay
from deskbase.support import tables as ts
from deskbase.support.evaluate import Message, TicketVersion, resume
from deskbase.support.sla_config import ConfigVersion, SlaConfig
from deskbase.support.sla_facts import (
    config_mark,
    customer_of,
    gathered_in_hand,
    message,
    records,
    resolve_eras,
)
from deskbase.support.sla_queue import SlaQueue
from deskbase.support.sla_reads import SlaReads
from deskbase.support.sla_scheduler import SlaScheduler
from deskbase.support.sla_state import Saved, TicketRow, Writer, load, touched


@dataclass
class _Input:
    """What one write brings to one ticket: new versions, newly linked responses, or a reason to replay."""

    versions: list[TicketVersion] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    replay: bool = False
    new: bool = False  #: the ticket was made by this write: its whole history is `versions`
    customer: str | None = None  #: the customer a `submitted_by` link this write made names
    #: A link removed or changed, or a second customer: the history is not only what this write made.
    rewritten: bool = False


_rel = t.relationships
#: Built once: building the select cost a hundred times what SQLite spends running it.
_LINKED = select(_rel.c.source_id).where(
    _rel.c.workspace_id == bindparam("ws"),
    _rel.c.rel_type == bindparam("rel_type"),
    _rel.c.source_collection == "tickets",
    _rel.c.target_collection == bindparam("coll"),
    _rel.c.target_id.in_(bindparam("ids", expanding=True)),
    _rel.c.deleted.is_(False),
)


class SlaService:
    def __init__(self, core: Deskbase) -> None:
        self.core = core
        self.config = SlaConfig(core)
        self.reads = SlaReads(core, self.config)
        self._queue = SlaQueue(core)
        self.scheduler = SlaScheduler(core, self.config)
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
        made: dict[str, set[str]] = defaultdict(set)  #: customers this write made: no stored link names them
        new_links: dict[str, list[tuple[str, str]]] = defaultdict(list)  #: (customer, ticket) linked here
        config_changed: set[str] = set()
        for c in changes:
            ws = c.workspace_id
            version[ws] = max(version.get(ws, 0), c.seq)
            img = c.data or {}
            if c.entity == "record" and c.collection == "tickets":
                w = work[ws][c.entity_id]
                if not w.versions:
                    w.new = c.first
                w.versions.append(TicketVersion(c.at, img.get("data") or {}, bool(img.get("deleted"))))
            elif c.entity == "record" and c.collection == "responses":
                (created if c.op == "create" else edited)[ws].add(c.entity_id)
            elif c.entity == "record" and c.collection == "customers":
                (made if c.first else customers)[ws].add(c.entity_id)
            elif c.entity == "relationship" and c.collection in ("has_response", "submitted_by"):
                if img.get("source_collection") == "tickets":
                    w = work[ws][img["source_id"]]
                    fresh_link = c.op == "create" and not img.get("deleted")
                    if c.collection == "has_response" and fresh_link:
                        w.responses.append(img["target_id"])
                        continue
                    # A link removed or a customer changed rewrites the past
                    w.replay = True
                    if fresh_link:
                        new_links[ws].append((img["target_id"], img["source_id"]))
                    if fresh_link and w.customer is None:
                        w.customer = img["target_id"]
                    else:
                        w.rewritten = True
            elif c.entity in ("sla_policy", "sla_calendar"):
                config_changed.add(ws)
        conn = tx.conn
        st = ts.sla_tickets
        for ws, ids in edited.items():
            # An edited or removed message may move in time or change kind: replay its ticket.
            for tid in self._linked(conn, ws, "has_response", "responses", ids - created[ws]):
                work[ws][tid].replay = True
        now = self.core.clock.now()
        for ws in customers.keys() | made.keys():
            linked = self._linked(conn, ws, "submitted_by", "customers", customers[ws])
            inputs = work.get(ws, {})
            linked += [tid for cid, tid in new_links[ws] if cid in made[ws] and not inputs[tid].new]
            if not linked:
                continue
            lock_rows(conn, ws, "tickets", linked)
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
            # A ticket this write did not itself write (found through a link, a message or a customer) is
            # locked before its state is read; the unit of work holds the rows of the tickets it wrote.
            lock_rows(conn, ws, "tickets", [tid for tid, w in inputs.items() if not w.versions])
            configs, match = self.config.for_write(tx, ws)
            # A ticket this write created has no stored SLA row yet: nothing to read back.
            stored = [tid for tid, w in inputs.items() if not w.new]
            rows = load(conn, ws, stored) if stored else {}
            writer = Writer(conn, ws, version[ws], now)
            replay = [
                tid
                for tid, w in inputs.items()
                if w.replay or not self._continue(writer, tid, w, rows.get(tid), configs, match)
            ]
            if replay:
                # A ticket made by this write has no history but this write's versions, links and the
                # records it holds: evaluated from them, without reading back what was just written.
                new = {
                    tid: g
                    for tid in replay
                    if (w := inputs[tid]).new
                    and not w.rewritten
                    and tid not in rows
                    and (
                        g := gathered_in_hand(
                            tx.unit_records, tid, w.versions, w.customer, w.responses, match
                        )
                    )
                    is not None
                }
                old = sorted(tid for tid in replay if tid not in new)
                replayed = sla_replay.replay_gathered(self.config, ws, new, now, configs)
                if old:
                    replayed |= sla_replay.replay(self.config, conn, ws, old, now, configs)
                sla_replay.store(writer, replayed, rows, configs, match)
            writer.flush()
            due = writer.earliest_due()
            if due is not None:
                dues.append(due)
        self.scheduler.wake_for(tx, min(dues, default=None))

    def _linked(
        self, conn: Connection, workspace_id: str, rel_type: str, collection: str, targets: Iterable[str]
    ) -> list[str]:
        """Tickets with a live `rel_type` link to these records of `collection` (the target index's prefix:
        without the collection the lookup walked every link of the type in the workspace)."""
        ids = list(targets)
        if not ids:
            return []
        params = {"ws": workspace_id, "rel_type": rel_type, "coll": collection, "ids": ids}
        return list(conn.execute(_LINKED, params).scalars())

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
        pending = bool(sla_replay.pending_steps(conn, workspace_id, ticket_id, f, stored=saved.pending))
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

    # ---- replay of everything and the scheduler -------------------------------------------------------
    def rebuild(self, workspace_id: str, batch: int = 500) -> int:
        """Recompute every ticket's SLA state from the change log (see sla_replay.rebuild)."""
        return sla_replay.rebuild(self.core, self.config, workspace_id, batch)

    def run_due(self, limit: int = 500) -> int:
        return self.scheduler.run_due(limit)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()

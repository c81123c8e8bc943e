"""Full replay of tickets' SLA state: evaluate each whole history, store it by difference with a fresh
checkpoint, and find the escalation steps not yet run. The write hook falls back to it when a checkpoint cannot
stand, the scheduler replays due tickets with it, and ``rebuild`` replays a whole workspace (derived state is
always replayable from the change log).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.changelog import Change
from deskbase.core.context import Actor
from deskbase.core.records import lock_rows
from deskbase.support import tables as ts
from deskbase.support.evaluate import Fold, fold
from deskbase.support.sla_config import ConfigVersion, SlaConfig
from deskbase.support.sla_facts import (
    Gathered,
    Timeline,
    author_match,
    config_mark,
    config_versions_in,
    gather_many,
    timeline,
)
from deskbase.support.sla_state import Saved, TicketRow, Writer, load, step_key, touched

SLA_ACTOR = Actor(id="system:sla", name="SLA scheduler", is_admin=True, source="sla")


@dataclass
class Replayed:
    fold: Fold
    timeline: Timeline
    gathered: Gathered


def replay(
    config: SlaConfig,
    conn: Connection,
    workspace_id: str,
    ticket_ids: list[str],
    now: datetime,
    configs: list[ConfigVersion],
) -> dict[str, Replayed]:
    """Evaluate each ticket's whole history (tickets that no longer exist are left out)."""
    gathered = gather_many(conn, workspace_id, ticket_ids)
    return {tid: _evaluate(config, workspace_id, g, now, configs) for tid, g in gathered.items()}


def replay_gathered(
    config: SlaConfig,
    workspace_id: str,
    gathered: dict[str, Gathered],
    now: datetime,
    configs: list[ConfigVersion],
) -> dict[str, Replayed]:
    """Evaluate tickets whose whole history the write in hand holds (`sla_facts.gathered_in_hand`): made by
    it, with what it linked to them — nothing read back."""
    return {tid: _evaluate(config, workspace_id, g, now, configs) for tid, g in gathered.items()}


def _evaluate(
    config: SlaConfig, workspace_id: str, g: Gathered, now: datetime, configs: list[ConfigVersion]
) -> Replayed:
    tl = timeline(config, workspace_id, g, configs)
    return Replayed(fold(g.facts, tl.eras, now), tl, g)


def store(
    writer: Writer,
    replayed: dict[str, Replayed],
    rows: dict[str, TicketRow],
    configs: list[ConfigVersion],
    match: list[str],
) -> None:
    """Store replays by difference against every row of each ticket, with a fresh checkpoint."""
    conn, workspace_id = writer.conn, writer.workspace_id
    stored = writer.stored_rows([tid for tid in replayed if tid in rows])
    for tid, r in replayed.items():
        f, messages = r.fold, r.gathered.facts.messages
        pending = bool(pending_steps(conn, workspace_id, tid, f))
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


def pending_steps(
    conn: Connection, workspace_id: str, ticket_id: str, f: Fold, *, stored: bool = False
) -> list[Any]:
    """Escalation steps not yet run (the scheduler runs each step once) among the fold's events, and with
    ``stored`` among the stored events before them (a continued fold re-makes only the later ones)."""
    steps: list[Any] = [e for e in f.events if e.kind == "escalate"]
    if stored:
        se = ts.sla_events
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
            select(ts.sla_escalations.c.step_key).where(
                ts.sla_escalations.c.workspace_id == workspace_id,
                ts.sla_escalations.c.ticket_id == ticket_id,
            )
        ).scalars()
    )
    return [e for e in steps if step_key(e) not in done]


def rebuild(core: Deskbase, config: SlaConfig, workspace_id: str, batch: int = 500) -> int:
    """Recompute every ticket's SLA state from the change log (derived state is always replayable).
    Each batch of tickets is one transaction and one `sla` change entry, so the replica follows."""
    r = t.records
    now = core.clock.now()
    last, total = "", 0
    while True:
        with core.db.read() as conn:
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
        with core.db.tx() as tx:
            core.workspaces.hold(tx, workspace_id)
            lock_rows(tx.conn, workspace_id, "tickets", ids)  # as the scheduler does: writes of these wait
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
                source=SLA_ACTOR.source,
            )
            core.emit(tx, [change], run_hooks=False)
            configs = config_versions_in(tx.conn, workspace_id)
            replayed = replay(config, tx.conn, workspace_id, ids, now, configs)
            rows = load(tx.conn, workspace_id, ids)
            writer = Writer(tx.conn, workspace_id, change.seq, now)
            store(writer, replayed, rows, configs, author_match(tx.conn, workspace_id))
            writer.flush()
        total += len(ids)
        last = ids[-1]

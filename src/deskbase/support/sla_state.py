"""A ticket's stored SLA state: the `sla_tickets` row with the fold's checkpoint, its instance and event rows,
and writing them back by difference.

Rows carry `version` = the change seq that last changed them (that is how they reach the SQL replica), so a
row whose content did not change is not written and keeps its version. A replay compares against every row of
the ticket; a continued fold only against the rows it can touch, which the stored `Saved` names: instances
open at the checkpoint or started after it, and events after the checkpoint's offset. Completed instances
and earlier events never change (replay = live), so an incremental write costs the same at 5 messages or 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from deskbase.core import bulk
from deskbase.support import tables as ts
from deskbase.support.evaluate import Checkpoint, Fold, SlaEvent
from deskbase.support.sla_facts import EraRef

RUNNING = frozenset({"active", "paused", "warning", "breached_active"})
InstanceKey = tuple[str, int, int]


@dataclass
class Saved:
    """What `sla_tickets.checkpoint` holds beside the fold's own state (all JSON).

    ``config`` and ``match`` identify the configuration and message classification the fold ran under; ``eras``
    reference the config versions of its timeline; ``message`` is the largest (at, id) folded, in the order a
    replay sorts messages; ``instances`` and ``events`` are the stored rows a continuation may touch;
    ``pending``: an escalation step among the stored events was not run yet (the scheduler will).
    """

    fold: dict[str, Any]
    config: list[int]
    match: list[str]
    eras: list[EraRef]
    explanation: list[dict[str, Any]]
    message: list[str] | None
    instances: list[list[Any]]
    events: list[str]
    pending: bool = False

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.fold)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Saved | None:
        if not data or not data.get("fold"):
            return None
        try:
            return cls(**data)
        except TypeError:  # written by another layout: replay once and store this one
            return None


@dataclass
class TicketRow:
    policy_id: str | None
    policy_version: int | None
    next_due: datetime | None
    saved: Saved | None


def event_key(position: int, metric: str, cycle: int, kind: str) -> str:
    """Events only ever grow as time passes (replay = live), so a position in the list is a stable key."""
    return f"{position}:{metric}:{cycle}:{kind}"


def step_key(e: Any) -> str:
    return f"{e.metric}:{e.cycle}:{e.details.get('restart', 0)}:{e.details.get('step')}"


_st = ts.sla_tickets
_LOAD = select(
    _st.c.ticket_id, _st.c.policy_id, _st.c.policy_version, _st.c.next_due, _st.c.checkpoint
).where(_st.c.workspace_id == bindparam("ws"), _st.c.ticket_id.in_(bindparam("ids", expanding=True)))


_si, _se = ts.sla_instances, ts.sla_events
_KNOWN_INSTANCES = select(_si).where(
    _si.c.workspace_id == bindparam("ws"),
    _si.c.ticket_id == bindparam("ticket"),
    _si.c.metric.in_(bindparam("metrics", expanding=True)),
    _si.c.cycle.in_(bindparam("cycles", expanding=True)),
)
_KNOWN_EVENTS = select(_se).where(
    _se.c.workspace_id == bindparam("ws"),
    _se.c.ticket_id == bindparam("ticket"),
    _se.c.event_key.in_(bindparam("keys", expanding=True)),
)


def load(conn: Connection, workspace_id: str, ticket_ids: list[str]) -> dict[str, TicketRow]:
    rows = conn.execute(_LOAD, {"ws": workspace_id, "ids": ticket_ids})
    return {
        r.ticket_id: TicketRow(r.policy_id, r.policy_version, r.next_due, Saved.from_json(r.checkpoint))
        for r in rows
    }


def touched(f: Fold) -> tuple[list[list[Any]], list[str]]:
    """The rows a continuation of ``f.checkpoint`` may change: instances open at it or started after it,
    and events after its offset."""
    cp = f.checkpoint
    if cp is None:
        return [], []
    open_at = {o["clock"]["pos"] for o in cp.state["open"] if o["clock"] is not None}
    before, offset = cp.instances_before, cp.state["events"]
    instances = [[i.metric, i.cycle, i.restarts] for p, i in f.instances if p >= before or p in open_at]
    events = [
        event_key(f.offset + n, e.metric, e.cycle, e.kind)
        for n, e in enumerate(f.events)
        if f.offset + n >= offset
    ]
    return instances, events


def _plain(value: Any) -> Any:
    """The value as it reads back from a JSON column."""
    return orjson.loads(orjson.dumps(value))


def _event_row(
    workspace_id: str, ticket_id: str, key: str, e: SlaEvent | None, version: int, now: datetime
) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "ticket_id": ticket_id,
        "event_key": key,
        "metric": "" if e is None else e.metric,
        "cycle": 0 if e is None else e.cycle,
        "kind": "" if e is None else e.kind,
        "at": now if e is None else e.at,
        "details": {} if e is None else _plain(dict(e.details)),
        "deleted": e is None,
        "version": version,
    }


class Writer:
    """Stores folds of one workspace by difference, then writes every changed row in a few statements
    (`flush`): a batch of new tickets costs three bulk inserts, whatever its size."""

    def __init__(self, conn: Connection, workspace_id: str, version: int, now: datetime) -> None:
        self.conn, self.workspace_id, self.version, self.now = conn, workspace_id, version, now
        self.inst_rows: list[dict[str, Any]] = []
        self.ev_rows: list[dict[str, Any]] = []
        self.replaced_inst: list[tuple[str, str, int, int]] = []
        self.replaced_ev: list[tuple[str, str]] = []
        self.new_tickets: list[dict[str, Any]] = []
        self.ticket_updates: list[tuple[str, dict[str, Any]]] = []

    def stored_rows(self, ticket_ids: list[str]) -> dict[str, tuple[dict[InstanceKey, Any], dict[str, Any]]]:
        """Every instance and event row of these tickets (for replays), in chunked queries."""
        si, se = ts.sla_instances, ts.sla_events
        out: dict[str, tuple[dict[InstanceKey, Any], dict[str, Any]]] = {tid: ({}, {}) for tid in ticket_ids}
        for i in range(0, len(ticket_ids), 500):
            chunk = ticket_ids[i : i + 500]
            for r in self.conn.execute(
                select(si).where(si.c.workspace_id == self.workspace_id, si.c.ticket_id.in_(chunk))
            ):
                out[r.ticket_id][0][(r.metric, r.cycle, r.restarts)] = r
            for r in self.conn.execute(
                select(se).where(se.c.workspace_id == self.workspace_id, se.c.ticket_id.in_(chunk))
            ):
                out[r.ticket_id][1][r.event_key] = r
        return out

    def known_rows(
        self, ticket_id: str, known: tuple[list[list[Any]], list[str]]
    ) -> tuple[dict[InstanceKey, Any], dict[str, Any]]:
        """The rows a continuation may touch, by key (IN lists on the primary key's columns)."""
        keys = {(k[0], k[1], k[2]) for k in known[0]}
        inst: dict[InstanceKey, Any] = {}
        at = {"ws": self.workspace_id, "ticket": ticket_id}
        if keys:
            metrics, cycles = sorted({k[0] for k in keys}), sorted({k[1] for k in keys})
            for r in self.conn.execute(_KNOWN_INSTANCES, {**at, "metrics": metrics, "cycles": cycles}):
                if (r.metric, r.cycle, r.restarts) in keys:
                    inst[(r.metric, r.cycle, r.restarts)] = r
        ev: dict[str, Any] = {}
        if known[1]:
            ev = {r.event_key: r for r in self.conn.execute(_KNOWN_EVENTS, {**at, "keys": known[1]})}
        return inst, ev

    def add(
        self,
        ticket_id: str,
        f: Fold,
        saved: Saved | None,
        previous: TicketRow | None,
        old: tuple[dict[InstanceKey, Any], dict[str, Any]],
        *,
        before: int | None,
        pending: bool,
    ) -> None:
        """Diff a fold against ``old`` rows. ``before`` None: a replay (``old`` is every row of the ticket and
        what the fold did not make is gone); else a continuation from a checkpoint with ``before`` instances
        (stored instances from there on that it did not make again are gone; earlier ones are final)."""
        ws, version, now = self.workspace_id, self.version, self.now
        old_inst, old_ev = old
        made: set[InstanceKey] = set()
        for pos, i in f.instances:
            key = (i.metric, i.cycle, i.restarts)
            made.add(key)
            row = {
                "state": i.state,
                "running": i.state in RUNNING,
                "target_at": i.target_at,
                "completed_at": i.completed_at,
                "data": _plain(i.to_dict()),
                "deleted": False,
                "position": pos,
            }
            prior = old_inst.get(key)
            if prior is not None and all(getattr(prior, k) == v for k, v in row.items()):
                continue
            self._instance(ticket_id, key, row, replaces=prior is not None)
        for key, prior in old_inst.items():
            if key not in made and not prior.deleted and (before is None or prior.position >= before):
                gone = {"state": "cancelled", "running": False, "target_at": now, "completed_at": None}
                self._instance(
                    ticket_id, key, {**gone, "data": {}, "deleted": True, "position": prior.position}, True
                )
        seen: set[str] = set()
        for n, e in enumerate(f.events):
            ekey = event_key(f.offset + n, e.metric, e.cycle, e.kind)
            seen.add(ekey)
            row = _event_row(ws, ticket_id, ekey, e, version, now)
            prior = old_ev.get(ekey)
            if (
                prior is not None
                and not prior.deleted
                and prior.at == e.at
                and prior.details == row["details"]
            ):
                continue
            self._event(row, replaces=prior is not None)
        for ekey, prior in old_ev.items():
            if ekey not in seen and not prior.deleted:
                self._event(_event_row(ws, ticket_id, ekey, None, version, now), replaces=True)
        values = _ticket_values(f, saved, previous, version, now, pending, before is not None)
        if previous is None:
            self.new_tickets.append({"workspace_id": ws, "ticket_id": ticket_id, **values})
        else:
            self.ticket_updates.append((ticket_id, values))

    def _instance(self, ticket_id: str, key: InstanceKey, row: dict[str, Any], replaces: bool) -> None:
        if replaces:
            self.replaced_inst.append((ticket_id, *key))
        self.inst_rows.append(
            {
                "workspace_id": self.workspace_id,
                "ticket_id": ticket_id,
                "metric": key[0],
                "cycle": key[1],
                "restarts": key[2],
                **row,
                "version": self.version,
            }
        )

    def _event(self, row: dict[str, Any], replaces: bool) -> None:
        if replaces:
            self.replaced_ev.append((row["ticket_id"], row["event_key"]))
        self.ev_rows.append(row)

    def flush(self) -> None:
        """Replaced rows are deleted by primary key (one executemany, no statement built per row), then
        every new version of a row is inserted in bulk."""
        conn, ws = self.conn, self.workspace_id
        ph = "%s" if conn.dialect.name == "postgresql" else "?"
        replaced = (
            ("sla_instances", ("ticket_id", "metric", "cycle", "restarts"), self.replaced_inst),
            ("sla_events", ("ticket_id", "event_key"), self.replaced_ev),
            ("sla_tickets", ("ticket_id",), [(tid,) for tid, _ in self.ticket_updates]),
        )
        for table, cols, keys in replaced:
            if keys:
                where = " AND ".join(f"{c} = {ph}" for c in ("workspace_id", *cols))
                bulk.execute(conn, f"DELETE FROM {table} WHERE {where}", [(ws, *k) for k in keys], defer=True)
        bulk.insert_dicts(conn, ts.sla_instances, self.inst_rows)
        bulk.insert_dicts(conn, ts.sla_events, self.ev_rows)
        updated = [{"workspace_id": ws, "ticket_id": tid, **values} for tid, values in self.ticket_updates]
        bulk.insert_dicts(conn, ts.sla_tickets, self.new_tickets + updated)

    def earliest_due(self) -> datetime | None:
        """The earliest `next_due` this writer stores: the scheduler is woken only if it is sooner than the
        instant the scheduler already sleeps until."""
        dues = [v["next_due"] for v in self.new_tickets if v["next_due"] is not None]
        dues += [v["next_due"] for _, v in self.ticket_updates if v["next_due"] is not None]
        return min(dues, default=None)


def _ticket_values(
    f: Fold,
    saved: Saved | None,
    previous: TicketRow | None,
    version: int,
    now: datetime,
    pending: bool,
    incremental: bool,
) -> dict[str, Any]:
    running = [i for _, i in f.instances if i.state in RUNNING]
    due = min(running, key=lambda i: i.target_at) if running else None
    first = next((i for p, i in f.instances if p == 0), None)
    policy_id, policy_version = (first.policy_id, first.policy_version) if first else (None, None)
    if first is None and previous is not None and incremental:  # the first instance is complete, so final
        policy_id, policy_version = previous.policy_id, previous.policy_version
    return {
        "policy_id": policy_id,
        "policy_version": policy_version,
        "running": len(running),
        "breached": sum(i.state == "breached_active" for i in running),
        "due_at": due.target_at if due else None,
        "due_metric": due.metric if due else None,
        "next_due": now if pending else f.next_due,
        "metrics": f.metrics.to_dict(),
        "version": version,
        "evaluated_at": now,
        "checkpoint": None if saved is None else saved.to_json(),
    }

"""A ticket's stored SLA state: the `sla_tickets` row with the fold's checkpoint, its instance and event rows,
and writing them back by difference.

Rows carry `version` = the change seq that last changed them (that is how they reach the SQL replica), so a
row whose content did not change is not written and keeps its version. A replay compares against every row of
the ticket; a continued fold only against the rows it can touch, which the stored `Saved` names: instances
open at the checkpoint or started after it, and events after the checkpoint's offset. Completed instances
and earlier events never change (replay = live), so an incremental write costs the same at 5 messages or 400.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.engine import Connection

from deskbase.core import bulk
from deskbase.core import tables as t
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


def load(conn: Connection, workspace_id: str, ticket_ids: list[str]) -> dict[str, TicketRow]:
    st = t.sla_tickets
    rows = conn.execute(
        select(st.c.ticket_id, st.c.policy_id, st.c.policy_version, st.c.next_due, st.c.checkpoint).where(
            st.c.workspace_id == workspace_id, st.c.ticket_id.in_(ticket_ids)
        )
    )
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


def write(
    conn: Connection,
    workspace_id: str,
    ticket_id: str,
    f: Fold,
    saved: Saved | None,
    previous: TicketRow | None,
    *,
    before: int | None,
    known: tuple[list[list[Any]], list[str]] | None,
    version: int,
    now: datetime,
    pending: bool,
) -> None:
    """Store a fold's results by difference. ``known`` None: a replay (compare with every row of the ticket);
    else the instance keys and event keys a continuation may touch, and ``before`` its checkpoint's instance
    count (stored instances from there on that the fold did not make again are gone)."""
    si, se = t.sla_instances, t.sla_events
    where = (si.c.workspace_id == workspace_id, si.c.ticket_id == ticket_id)
    old_inst: dict[InstanceKey, Any] = {}
    keys = None if known is None else [tuple(k) for k in known[0]]
    if keys is None or keys:
        only = [] if keys is None else [tuple_(si.c.metric, si.c.cycle, si.c.restarts).in_(keys)]
        old_inst = {(r.metric, r.cycle, r.restarts): r for r in conn.execute(select(si).where(*where, *only))}
    inst_rows: list[dict[str, Any]] = []
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
        old = old_inst.get(key)
        if old is not None and all(getattr(old, k) == v for k, v in row.items()):
            continue
        inst_rows.append(
            {
                "workspace_id": workspace_id,
                "ticket_id": ticket_id,
                "metric": i.metric,
                "cycle": i.cycle,
                "restarts": i.restarts,
                **row,
                "version": version,
            }
        )
    for key, old in old_inst.items():
        gone = key not in made and not old.deleted and (before is None or old.position >= before)
        if gone:
            inst_rows.append(
                {
                    "workspace_id": workspace_id,
                    "ticket_id": ticket_id,
                    "metric": key[0],
                    "cycle": key[1],
                    "restarts": key[2],
                    "state": "cancelled",
                    "running": False,
                    "target_at": now,
                    "completed_at": None,
                    "data": {},
                    "deleted": True,
                    "position": old.position,
                    "version": version,
                }
            )
    old_ev: dict[str, Any] = {}
    if known is None or known[1]:
        only_ev = [] if known is None else [se.c.event_key.in_(known[1])]
        old_ev = {
            r.event_key: r
            for r in conn.execute(
                select(se).where(se.c.workspace_id == workspace_id, se.c.ticket_id == ticket_id, *only_ev)
            )
        }
    ev_rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, e in enumerate(f.events):
        ekey = event_key(f.offset + n, e.metric, e.cycle, e.kind)
        seen.add(ekey)
        row = _event_row(workspace_id, ticket_id, ekey, e, version, now)
        old = old_ev.get(ekey)
        if old is not None and not old.deleted and old.at == e.at and old.details == row["details"]:
            continue
        ev_rows.append(row)
    for ekey, old in old_ev.items():
        if ekey not in seen and not old.deleted:
            ev_rows.append(_event_row(workspace_id, ticket_id, ekey, None, version, now))
    _replace(
        conn,
        si,
        where,
        [
            (r["metric"], r["cycle"], r["restarts"])
            for r in inst_rows
            if (r["metric"], r["cycle"], r["restarts"]) in old_inst
        ],
        inst_rows,
        (si.c.metric, si.c.cycle, si.c.restarts),
    )
    _replace(
        conn,
        se,
        (se.c.workspace_id == workspace_id, se.c.ticket_id == ticket_id),
        [(r["event_key"],) for r in ev_rows if r["event_key"] in old_ev],
        ev_rows,
        (se.c.event_key,),
    )
    _ticket_row(conn, workspace_id, ticket_id, f, saved, previous, version, now, pending, before is not None)


def _replace(
    conn: Connection,
    table: Any,
    where: Iterable[Any],
    existing: list[tuple[Any, ...]],
    rows: list[dict[str, Any]],
    key_cols: tuple[Any, ...],
) -> None:
    if existing:
        for i in range(0, len(existing), 400):
            conn.execute(delete(table).where(*where, tuple_(*key_cols).in_(existing[i : i + 400])))
    bulk.insert_dicts(conn, table, rows)


def _ticket_row(
    conn: Connection,
    workspace_id: str,
    ticket_id: str,
    f: Fold,
    saved: Saved | None,
    previous: TicketRow | None,
    version: int,
    now: datetime,
    pending: bool,
    incremental: bool,
) -> None:
    running = [i for _, i in f.instances if i.state in RUNNING]
    due = min(running, key=lambda i: i.target_at) if running else None
    first = next((i for p, i in f.instances if p == 0), None)
    policy_id, policy_version = (first.policy_id, first.policy_version) if first else (None, None)
    if first is None and previous is not None and incremental:
        policy_id, policy_version = previous.policy_id, previous.policy_version
    values = {
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
    st = t.sla_tickets
    if previous is None:
        conn.execute(insert(st).values(workspace_id=workspace_id, ticket_id=ticket_id, **values))
    else:
        conn.execute(
            update(st).where(st.c.workspace_id == workspace_id, st.c.ticket_id == ticket_id).values(**values)
        )

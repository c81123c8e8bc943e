"""Events from the outbox: change-log rows (records, relationships, ticket messages) and SLA event rows.

Event ids are derived from what they describe (a change's seq; an SLA event's ticket, metric, cycle, kind and
instant), so a re-read after a crash yields the same ids, and deliveries dedupe on them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.clock import iso, parse_iso
from deskbase.core.entity_state import record_from_row
from deskbase.events.matching import Event
from deskbase.support import tables as ts
from deskbase.support import tickets

SLA_TYPES = {"warn": "sla.warning", "breach": "sla.breached", "escalate": "sla.escalated"}
_RECORD_OPS = {"create": "record.created", "update": "record.updated", "delete": "record.deleted"}
_LINK_OPS = {"create": "relationship.created", "delete": "relationship.deleted"}
_MESSAGE_NEEDS = (
    ("read:records", "tickets"),
    ("read:records", "responses"),
    ("read:relationships", "tickets"),
    ("read:relationships", "responses"),
)


def record_image(collection: str, record_id: str, seq: int, img: dict[str, Any]) -> dict[str, Any]:
    """A record's public form (as every API route returns it) from a change-log after-image."""
    return {
        "id": record_id,
        "collection": collection,
        "data": img.get("data"),
        "version": seq,
        "deleted": bool(img.get("deleted")),
        "created_at": img.get("created_at"),
        "updated_at": img.get("updated_at"),
        "external_id": img.get("external_id"),
        "external_source": img.get("external_source"),
    }


def _previous(conn: Connection, row: Any) -> dict[str, Any] | None:
    c = t.changes.c
    prev = conn.execute(
        select(c.data)
        .where(
            c.workspace_id == row.workspace_id,
            c.entity == "record",
            c.collection == row.collection,
            c.entity_id == row.entity_id,
            c.seq < row.seq,
        )
        .order_by(c.seq.desc())
        .limit(1)
    ).scalar()
    return (prev or {}).get("data") if prev is not None else None


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    before, after = before or {}, after or {}
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def from_changes(conn: Connection, rows: Iterable[Any], wanted: set[str]) -> list[Event]:
    """Events of change-log rows; `wanted` holds the event types some trigger asks for (others are skipped
    without the reads they would need)."""
    out: list[Event] = []
    for row in rows:
        img = row.data or {}
        if row.entity == "record" and _RECORD_OPS.get(row.op) in wanted:
            kind = _RECORD_OPS[row.op]
            record = record_image(row.collection, row.entity_id, row.seq, img)
            data: dict[str, Any] = {"collection": row.collection, "record": record}
            if kind == "record.updated":
                previous = _previous(conn, row)
                data["previous_data"] = previous
                data["changed_fields"] = changed_fields(previous, record["data"])
            out.append(
                Event(
                    f"evt_{row.seq}",
                    kind,
                    row.workspace_id,
                    row.seq,
                    row.at,
                    data,
                    f"record:{row.collection}:{row.entity_id}",
                    (row.collection,),
                    (("read:records", row.collection),),
                    record,
                    row.actor,
                )
            )
        elif row.entity == "relationship" and row.op in _LINK_OPS:
            src, tgt = img.get("source_collection", ""), img.get("target_collection", "")
            link = {"id": row.entity_id, "rel_type": row.collection, **img, "version": row.seq}
            if _LINK_OPS[row.op] in wanted:
                out.append(
                    Event(
                        f"evt_{row.seq}",
                        _LINK_OPS[row.op],
                        row.workspace_id,
                        row.seq,
                        row.at,
                        {"relationship": link},
                        f"relationship:{row.entity_id}",
                        (src, tgt),
                        (("read:relationships", src), ("read:relationships", tgt)),
                        actor=row.actor,
                    )
                )
            if row.op == "create" and row.collection == "has_response" and "ticket.message" in wanted:
                message = _message(conn, row, img)
                if message is not None:
                    out.append(message)
    return out


def _message(conn: Connection, row: Any, img: dict[str, Any]) -> Event | None:
    """A response linked to a ticket, with who wrote it: 'customer', 'agent' or 'note' (an internal note)."""
    if img.get("source_collection") != "tickets" or img.get("target_collection") != "responses":
        return None
    r = t.records
    resp_row = conn.execute(
        select(r).where(
            r.c.workspace_id == row.workspace_id,
            r.c.collection == "responses",
            r.c.id == img.get("target_id"),
        )
    ).first()
    if resp_row is None:
        return None
    response = record_from_row(resp_row).public()
    ticket_id = img["source_id"]
    customer = _customer(conn, row.workspace_id, ticket_id)
    settings = conn.execute(
        select(t.workspaces.c.settings).where(t.workspaces.c.id == row.workspace_id)
    ).scalar()
    match = list((settings or {}).get("customer_author_match") or ["email", "id"])
    kind = tickets.classify(response, customer, match)
    return Event(
        f"evt_{row.seq}_message",
        "ticket.message",
        row.workspace_id,
        row.seq,
        row.at,
        {"ticket_id": ticket_id, "kind": kind, "response": response},
        f"record:tickets:{ticket_id}",
        ("tickets", "responses"),
        _MESSAGE_NEEDS,
        ticket_record(conn, row.workspace_id, ticket_id),
        row.actor,
    )


def ticket_record(conn: Connection, ws: str, ticket_id: str) -> dict[str, Any] | None:
    """The ticket as it is now: what a trigger's filter reads for ticket messages and SLA events."""
    r = t.records
    row = conn.execute(
        select(r).where(r.c.workspace_id == ws, r.c.collection == "tickets", r.c.id == ticket_id)
    ).first()
    return record_from_row(row).public() if row is not None else None


def _customer(conn: Connection, ws: str, ticket_id: str) -> dict[str, Any] | None:
    r, rec = t.relationships, t.records
    row = conn.execute(
        select(rec)
        .join(
            r,
            (rec.c.workspace_id == r.c.workspace_id)
            & (rec.c.collection == r.c.target_collection)
            & (rec.c.id == r.c.target_id),
        )
        .where(
            r.c.workspace_id == ws,
            r.c.rel_type == "submitted_by",
            r.c.source_collection == "tickets",
            r.c.source_id == ticket_id,
            r.c.deleted.is_(False),
            rec.c.deleted.is_(False),
        )
        .limit(1)
    ).first()
    return record_from_row(row).public() if row is not None else None


def from_sla(conn: Connection, lo: int, hi: int, wanted: set[str]) -> list[Event]:
    """Warnings, breaches and `emit` escalation steps recorded by changes (lo, hi]."""
    kinds = [k for k, typ in SLA_TYPES.items() if typ in wanted]
    if not kinds:
        return []
    se, si = ts.sla_events, ts.sla_instances
    rows = conn.execute(
        select(se)
        .where(se.c.version > lo, se.c.version <= hi, se.c.deleted.is_(False), se.c.kind.in_(kinds))
        .order_by(se.c.version, se.c.at)
    ).all()
    out = []
    for r in rows:
        details = dict(r.details or {})
        if r.kind == "escalate" and not (details.get("actions") or {}).get("emit"):
            continue
        restart = int(details.get("restart", 0))
        target_at = conn.execute(
            select(si.c.target_at).where(
                si.c.workspace_id == r.workspace_id,
                si.c.ticket_id == r.ticket_id,
                si.c.metric == r.metric,
                si.c.cycle == r.cycle,
                si.c.restarts == restart,
            )
        ).scalar()
        at = iso(r.at)
        key = f"{r.workspace_id}|{r.ticket_id}|{r.metric}|{r.cycle}|{restart}|{r.kind}|{details.get('step')}|{at}"
        data: dict[str, Any] = {
            "ticket_id": r.ticket_id,
            "metric": r.metric,
            "cycle": r.cycle,
            "target_at": iso(target_at) if target_at else None,
            {"warn": "warning_at", "breach": "breached_at", "escalate": "escalated_at"}[r.kind]: at,
        }
        if r.kind == "escalate":
            data.update(
                name=details["actions"]["emit"], trigger=details.get("trigger"), step=details.get("step")
            )
        out.append(
            Event(
                "evt_sla_" + hashlib.sha256(key.encode()).hexdigest()[:24],
                SLA_TYPES[r.kind],
                r.workspace_id,
                int(r.version),
                parse_iso(at),
                data,
                f"record:tickets:{r.ticket_id}",
                ("tickets",),
                (("read:records", "tickets"),),
                ticket_record(conn, r.workspace_id, r.ticket_id),
            )
        )
    return out

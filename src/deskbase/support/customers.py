"""A customer's history for their page: their tickets (through `submitted_by`), how many messages those
carry, first and last contact, and the other customers of their company. Indexed reads only: the links by
the relationships' target index, tickets by primary key, the company through its `x-search` trigram index
(then compared exactly), messages counted on the relationships' source index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select

from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.entity_state import record_from_row
from deskbase.core.scope import ReadScope

#: Tickets a customer page lists (newest first); the count covers them all.
MAX_TICKETS = 500
PEERS = 20


def tickets_of(
    core: Deskbase, scope: ReadScope, customer_id: str, limit: int = MAX_TICKETS
) -> list[dict[str, Any]]:
    """The customer's live tickets, most recently updated first; empty when the caller may not read them."""
    if not scope.through("tickets", "customers"):
        return []
    r, rec = t.relationships, t.records
    on = and_(
        rec.c.workspace_id == r.c.workspace_id,
        rec.c.collection == r.c.source_collection,
        rec.c.id == r.c.source_id,
    )
    with core.db.read() as conn:
        rows = conn.execute(
            select(rec)
            .join(r, on)
            .where(
                r.c.workspace_id == scope.workspace_id,
                r.c.target_collection == "customers",
                r.c.target_id == customer_id,
                r.c.rel_type == "submitted_by",
                r.c.source_collection == "tickets",
                r.c.deleted.is_(False),
                rec.c.deleted.is_(False),
            )
            .order_by(rec.c.updated_at.desc(), rec.c.id)
            .limit(limit)
        ).all()
    return [record_from_row(row).public() for row in rows]


def message_count(core: Deskbase, scope: ReadScope, ticket_ids: list[str]) -> int | None:
    """Messages (replies and notes) on these tickets; None when the caller may not read them."""
    if not scope.through("tickets", "responses"):
        return None
    if not ticket_ids:
        return 0
    r = t.relationships
    with core.db.read() as conn:
        n = conn.execute(
            select(func.count())
            .select_from(r)
            .where(
                r.c.workspace_id == scope.workspace_id,
                r.c.source_collection == "tickets",
                r.c.source_id.in_(ticket_ids),
                r.c.rel_type == "has_response",
                r.c.deleted.is_(False),
            )
        ).scalar_one()
    return int(n)


def company_peers(
    core: Deskbase, scope: ReadScope, company: str, exclude: str, limit: int = PEERS
) -> list[dict[str, Any]]:
    """Other live customers of the same company (compared case-insensitively, whole value)."""
    name = company.strip()
    if len(name) < 3 or not scope.records("customers"):
        return []  # too short for the trigram index: not worth a scan
    cond = {"field": "data.company", "op": "search", "value": name}
    page = core.records.query(scope.workspace_id, "customers", cond, None, limit * 3)["data"]
    same = [
        c
        for c in page
        if c["id"] != exclude
        and str((c.get("data") or {}).get("company") or "").strip().lower() == name.lower()
    ]
    return same[:limit]


def ticket_count(core: Deskbase, workspace_id: str, customer_id: str) -> int:
    """How many live tickets the customer submitted (counted on the relationships' target index)."""
    r, rec = t.relationships, t.records
    on = and_(
        rec.c.workspace_id == r.c.workspace_id,
        rec.c.collection == r.c.source_collection,
        rec.c.id == r.c.source_id,
    )
    with core.db.read() as conn:
        n = conn.execute(
            select(func.count())
            .select_from(r.join(rec, on))
            .where(
                r.c.workspace_id == workspace_id,
                r.c.target_collection == "customers",
                r.c.target_id == customer_id,
                r.c.rel_type == "submitted_by",
                r.c.source_collection == "tickets",
                r.c.deleted.is_(False),
                rec.c.deleted.is_(False),
            )
        ).scalar_one()
    return int(n)

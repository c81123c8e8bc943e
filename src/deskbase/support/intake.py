"""Opening a ticket for a customer named by email: the customer is found by address (the `email` index) or
created, and the ticket, the customer (when new) and their `submitted_by` link are written in one unit of work.

Adapters that open tickets on someone's behalf (MCP's `create_ticket`) call `open_ticket`; the unit of work
checks every permission the equivalent batch would (write:records on tickets, and on customers when one is
created; write:relationships on both ends).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.entity_state import RecordState
from deskbase.core.errors import ValidationFailed
from deskbase.core.filters import Compiler, Field
from deskbase.core.writer import UnitOfWork

_EMAIL = Field(None, ("email",))
MAX_EMAIL = 320


@dataclass(frozen=True)
class Opened:
    ticket: dict[str, Any]
    customer: dict[str, Any]
    customer_created: bool


def find_customer(uow: UnitOfWork, email: str) -> RecordState | None:
    """The live customer with this address (as written, or in lower case), the oldest id first."""
    r = t.records
    expr = Compiler(uow.tx.conn.dialect.name).data_text(_EMAIL)
    wanted = sorted({email, email.lower()})
    rid = uow.tx.conn.execute(
        select(r.c.id)
        .where(
            r.c.workspace_id == uow.workspace_id,
            r.c.collection == "customers",
            r.c.deleted.is_(False),
            expr.in_(wanted),
        )
        .order_by(r.c.id)
        .limit(1)
    ).scalar()
    return uow.record("customers", rid) if rid is not None else None


def open_ticket(
    core: Deskbase,
    workspace_id: str,
    data: dict[str, Any],
    email: str,
    customer: dict[str, Any] | None,
    actor: Actor,
    at: datetime | None = None,
) -> Opened:
    """Create a ticket submitted by the customer with `email`. A new customer gets `customer`'s fields (its
    name defaulting to the address's local part, as the email channel names a sender); an existing one is
    left as it is."""
    address = email.strip()
    if not address or "@" not in address or len(address) > MAX_EMAIL:
        raise ValidationFailed(
            "the customer's email must be an address like jo@example.com",
            [{"pointer": "/customer/email", "message": "not an email address"}],
        )
    when = core.records.change_time(actor, at, workspace_id, "tickets")

    def stage(uow: UnitOfWork) -> tuple[RecordState, RecordState, bool]:
        uow.claim("customer-email", address.lower())
        found = find_customer(uow, address)
        created = found is None
        if found is None:
            fields = {k: v for k, v in (customer or {}).items() if v is not None}
            fields["email"] = address.lower()
            fields.setdefault("name", address.split("@")[0][:200])
            found, _ = uow.upsert_record("customers", fields, when)
        ticket, _ = uow.upsert_record("tickets", data, when)
        uow.upsert_relationship("submitted_by", ("tickets", ticket.id), ("customers", found.id), None, when)
        return ticket, found, created

    ticket, found, created = core.records.run(workspace_id, actor, stage)
    return Opened(ticket.public(), found.public(), created)  # after the flush: with their versions

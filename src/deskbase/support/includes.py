"""Sideloading on ticket reads: what a client would otherwise fetch with one request per ticket (its customer,
its most urgent SLA clock, its conversation, its related tickets), loaded for a whole page in one batched
query per include. The REST ticket routes (`?include=`) and the MCP ticket tools both call `load`, so the
two adapters answer the same question with the same reads."""

from __future__ import annotations

from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize
from deskbase.core.errors import BadRequest
from deskbase.core.scope import ReadScope
from deskbase.support import tickets
from deskbase.support.service import SlaService

TICKETS = "tickets"
#: Includes a page of tickets may ask for (one batched query each).
LIST_INCLUDES = ("customer", "sla")
#: Includes one ticket may ask for as well (per ticket reads: never on a page).
RECORD_INCLUDES = (*LIST_INCLUDES, "conversation", "related")
#: Related tickets one read includes, at most.
RELATED = 50
#: The fields of a stored SLA clock the `sla` include carries (the queue chip's summary).
URGENT_FIELDS = ("metric", "cycle", "state", "target_at", "business", "paused")


class InvalidInclude(BadRequest):
    code = "invalid_include"


def parse(raw: str | None, collection: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The includes a comma-separated `include` parameter names, in the order given, each once; 400 for one
    this route does not offer (any include outside the tickets collection)."""
    if raw is None or not raw.strip():
        return ()
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    offered = allowed if collection == TICKETS else ()
    unknown = [n for n in names if n not in offered]
    if unknown:
        where = "on tickets" if collection == TICKETS else f"on {collection!r} (only tickets offer includes)"
        raise InvalidInclude(
            f"unknown include {unknown[0]!r} {where}; allowed: {', '.join(offered) or 'none'}",
            {"parameter": "include", "unknown": unknown, "allowed": list(offered)},
        )
    return names


def authorize_includes(scope: ReadScope, names: tuple[str, ...]) -> None:
    """Each include needs what its separate route needs: a token that may not read what it names gets that
    route's answer (403 for a missing permission, 404 for a collection outside its scope), never the data."""
    actor, ws = scope.actor, scope.workspace_id
    needs: dict[str, tuple[tuple[str, str], ...]] = {
        # GET …/records/customers/{id} and the ticket's relationships
        "customer": (
            ("read:records", "customers"),
            ("read:relationships", TICKETS),
            ("read:relationships", "customers"),
        ),
        # GET …/tickets/{id}/sla
        "sla": (("read:records", TICKETS),),
        # GET …/tickets/{id}/responses
        "conversation": (
            ("read:records", "responses"),
            ("read:relationships", TICKETS),
            ("read:relationships", "responses"),
        ),
        # GET …/records/tickets/{id}/relationships and the tickets they name
        "related": (("read:relationships", TICKETS),),
    }
    for name in names:
        for permission, collection in needs[name]:
            authorize(actor, permission, ws, collection)


def urgent(clock: dict[str, Any]) -> dict[str, Any]:
    """The `sla` include of one ticket: its most urgent running clock, as stored at its last change."""
    return {k: clock[k] for k in URGENT_FIELDS if k in clock}


def load(
    core: Deskbase, scope: ReadScope, ticket_ids: list[str], names: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """ticket id -> {include: value} for every ticket given; a value is null (customer, sla) or empty
    (conversation, related) when there is none or the caller may not read it. Per-ticket includes
    (conversation, related) are read only for the tickets given, which a route keeps to one."""
    out: dict[str, dict[str, Any]] = {tid: {} for tid in ticket_ids}
    if not ticket_ids or not names:
        return out
    if "customer" in names:
        customers = tickets.customers_by_ticket(core, scope, ticket_ids)
        for tid in ticket_ids:
            out[tid]["customer"] = customers.get(tid)
    if "sla" in names:
        sla = core.extensions.get(SlaService)
        clocks = sla.clocks(scope.workspace_id, ticket_ids) if sla is not None else {}
        for tid in ticket_ids:
            found = clocks.get(tid)
            out[tid]["sla"] = urgent(found) if found is not None else None
    for tid in ticket_ids:
        if "conversation" in names:
            out[tid]["conversation"] = tickets.conversation(core, scope, tid)
        if "related" in names:
            out[tid]["related"] = tickets.related(core, scope, tid, RELATED)
    return out

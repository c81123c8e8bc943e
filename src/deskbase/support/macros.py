"""Macros: canned replies and actions (records of the template's `macros` collection) applied to a ticket.

Applying a macro fills in its text for this ticket and says what else it changes; nothing is written until the
agent sends, and then the message and the field changes go through the same core services as any reply.
Placeholders are replaced as plain text (never evaluated as a template language), so a macro's body can hold
no code and leak no other data than the five fields named here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.errors import NotFound
from deskbase.core.scope import ReadScope
from deskbase.support.tickets import customer_of

COLLECTION = "macros"
MAX_LISTED = 200
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+(?:\.[a-z_]+)?)\s*\}\}")


@dataclass
class Applied:
    """A macro made concrete for one ticket."""

    name: str
    body: str
    type: str = "reply"
    status: str = ""
    priority: str = ""
    add_tags: list[str] = field(default_factory=list)


def listed(core: Deskbase, workspace_id: str) -> list[dict[str, Any]]:
    """The workspace's macros by name ([] without the collection): a small, human-curated list."""
    try:
        rows = core.records.query(workspace_id, COLLECTION, None, limit=MAX_LISTED)["data"]
    except NotFound:
        return []
    return sorted(rows, key=lambda r: str((r.get("data") or {}).get("name") or "").lower())


def apply(core: Deskbase, scope: ReadScope, macro_id: str, ticket_id: str, agent: str) -> Applied:
    """The macro filled in for the ticket; customer placeholders stay empty for a caller who may not read
    the customer (a macro must not become a way around the scope)."""
    workspace_id = scope.workspace_id
    macro = core.records.get(workspace_id, COLLECTION, macro_id)["data"]
    ticket = core.records.get(workspace_id, "tickets", ticket_id)
    customer = customer_of(core, scope, ticket_id)
    cdata = (customer or {}).get("data") or {}
    name = str(cdata.get("name") or "")
    values = {
        "customer.name": name,
        "customer.first_name": name.split()[0] if name.split() else "",
        "ticket.subject": str((ticket.get("data") or {}).get("subject") or ""),
        "ticket.id": ticket["id"],
        "agent": agent,
    }
    body = PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), str(macro.get("body") or ""))
    return Applied(
        name=str(macro.get("name") or macro_id),
        body=body,
        type=str(macro.get("type") or "reply"),
        status=str(macro.get("set_status") or ""),
        priority=str(macro.get("set_priority") or ""),
        add_tags=[str(t) for t in macro.get("add_tags") or []],
    )

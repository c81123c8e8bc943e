"""A customer's history on both stores: their tickets, message count, company peers, scoped reads."""

from __future__ import annotations

from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.context import SYSTEM
from deskbase.core.scope import ReadScope
from deskbase.support import customers, tickets


def test_tickets_messages_and_company(core: Deskbase, ws: str) -> None:
    def rec(coll: str, data: dict[str, Any]) -> str:
        return str(core.records.create(ws, coll, {"data": data}, SYSTEM)[0]["id"])

    ana = rec("customers", {"name": "Ana", "email": "ana@globex.io", "company": "Globex"})
    carl = rec("customers", {"name": "Carl", "email": "carl@globex.io", "company": "GLOBEX"})
    rec("customers", {"name": "Gus", "email": "gus@x.io", "company": "Globex Labs"})  # another company
    mine = []
    for subject in ("One", "Two"):
        tid = rec("tickets", {"subject": subject, "status": "open", "priority": "low"})
        core.relationships.upsert(
            ws,
            {
                "rel_type": "submitted_by",
                "source": {"collection": "tickets", "id": tid},
                "target": {"collection": "customers", "id": ana},
            },
            SYSTEM,
        )
        mine.append(tid)
    tickets.add_response(core, ws, mine[0], {"body": "hello"}, SYSTEM)
    tickets.add_response(core, ws, mine[0], {"body": "again"}, SYSTEM)
    core.records.delete(ws, "tickets", mine[1], SYSTEM)
    scope = ReadScope(SYSTEM, ws)
    assert [t["id"] for t in customers.tickets_of(core, scope, ana)] == [mine[0]]
    assert customers.ticket_count(core, ws, ana) == 1
    assert customers.message_count(core, scope, [mine[0]]) == 2
    assert [c["id"] for c in customers.company_peers(core, scope, "Globex", ana)] == [carl]
    raw, _ = core.tokens.create(
        "customers-only",
        [{"scope": {"workspaces": [ws], "collections": ["customers"]}, "permissions": ["read:records"]}],
    )
    narrow = ReadScope(core.tokens.authenticate(raw), ws)
    assert customers.tickets_of(core, narrow, ana) == []
    assert customers.message_count(core, narrow, [mine[0]]) is None

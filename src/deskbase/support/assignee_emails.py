"""A ticket's assignee is the email of an agent (team_rules.py), so when a user's email changes, the tickets
assigned to the old address follow them: in the transaction that changes the email, through the one write
path (a unit of work per workspace, loaded and written in bulk), each a new version logged with
`system:people` as its actor and `people` as its source, so a ticket's history says why its assignee changed.

Only workspaces where the user is an agent are rewritten: elsewhere (a light agent, an analyst) the new
address would be refused as an assignee, and the old one stays as it is, as for anyone who left.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from deskbase.core import agents as agent_list
from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.filters import Compiler, parse_field
from deskbase.core.people_tables import memberships
from deskbase.support.team_rules import TICKETS

audit_log = logging.getLogger("deskbase.audit")
CHUNK = 500  #: tickets staged per flush
ACTOR_ID = "system:people"  #: the change log's actor of these versions (no one is newly assigned by them)


def email_actor(old: str, new: str) -> Actor:
    return Actor(id=ACTOR_ID, name=f"email change {old} → {new}", is_admin=True, source="people")


class AssigneeEmails:
    def __init__(self, core: Deskbase) -> None:
        self.core = core
        core.hooks.on_email_changed(self.follow)

    def follow(self, tx: Tx, user_id: str, old: str, new: str) -> None:
        """Inside the transaction changing the email: reassign the user's tickets from `old` to `new`."""
        conn = tx.conn
        workspaces = conn.execute(
            select(memberships.c.workspace_id).where(memberships.c.user_id == user_id)
        ).scalars()
        actor = email_actor(old, new)
        for ws in sorted(workspaces):
            if new not in agent_list.agents(conn, self.core.roles, ws, TICKETS):
                continue
            c = Compiler(conn.dialect.name)
            assignee = c.data_text(parse_field("data.assignee"))
            r = t.records
            ids = list(
                conn.execute(
                    select(r.c.id).where(
                        r.c.workspace_id == ws,
                        r.c.collection == TICKETS,
                        r.c.deleted.is_(False),
                        assignee == old,
                    )
                ).scalars()
            )
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                uow = self.core.records.begin(tx, ws, actor)
                uow.prefetch_records([(TICKETS, rid) for rid in chunk])
                for rid in chunk:
                    uow.patch_record(TICKETS, rid, {"assignee": new}, None)
                uow.flush()
            if ids:
                audit_log.info("%d tickets of %s reassigned from %s to %s", len(ids), ws, old, new)

"""Who may write what a customer reads: any response other than an internal note is customer-visible (a reply
is emailed, shown as the agent's answer, counted as the first response). Writing one needs `write:records`
on tickets, what working tickets takes: a light agent (who may write responses, for notes) writes internal
notes only. Checked on the core's one write path for responses, so the API, batches, the console, MCP, email
and hooks all obey it; the console asks `may_reply_publicly` to offer notes only.
"""

from __future__ import annotations

from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.auth import permits
from deskbase.core.context import Actor
from deskbase.core.errors import Forbidden
from deskbase.core.writer import UnitOfWork

RESPONSES = "responses"
NOTE = "internal_note"


def may_reply_publicly(actor: Actor, workspace_id: str) -> bool:
    return permits(actor, "write:records", workspace_id, "tickets")


class ReplyRules:
    def __init__(self, core: Deskbase) -> None:
        core.hooks.on_record_write(RESPONSES, self.check)

    @staticmethod
    def check(uow: UnitOfWork, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
        """Refuse a customer-visible response (new, edited, or a note turned into a reply) from an actor who
        may not work tickets."""
        if after.get("type") == NOTE or may_reply_publicly(uow.actor, uow.workspace_id):
            return
        raise Forbidden(
            "you may write internal notes only: a reply the customer sees needs write:records on tickets, "
            "which a light agent's role does not give",
            {"permission": "write:records", "collection": "tickets", "reason": "internal_notes_only"},
        )

"""What one caller may read in one workspace: the single answer every read path gives.

Generic routes check one thing each (a record's collection, a link's two ends, `read:audit` for who made a
change). Composite views — a ticket's conversation and timeline, the customer beside a ticket, a macro filled
in for a ticket, a console page — read several collections at once; they ask a `ReadScope` instead of
checking permissions themselves, so they can never show more than the generic routes would show the same
token: a record of a collection outside its scope is absent, a record reached through a link needs the link
too, and who made a change is shown to `read:audit` holders only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deskbase.core.auth import permits
from deskbase.core.context import SYSTEM, Actor


@dataclass(frozen=True)
class ReadScope:
    actor: Actor
    workspace_id: str

    @classmethod
    def unrestricted(cls, workspace_id: str) -> ReadScope:
        """For the system's own reads (SLA evaluation, exports run by the server)."""
        return cls(SYSTEM, workspace_id)

    def records(self, collection: str) -> bool:
        """May the caller read records of `collection` (as `GET …/records/{collection}/{id}` would)?"""
        return permits(self.actor, "read:records", self.workspace_id, collection)

    def links(self, *collections: str) -> bool:
        """May the caller read a relationship between these collections (`read:relationships` on each end)?"""
        return all(permits(self.actor, "read:relationships", self.workspace_id, c) for c in collections)

    def through(self, source: str, target: str) -> bool:
        """May the caller read `target` records reached from a `source` record by a link? Both the link and
        the records: the generic routes would need `…/relationships` and `…/records/{target}/{id}`."""
        return self.records(target) and self.links(source, target)

    def audit(self, collection: str | None = None) -> bool:
        """May the caller see who made a change (token id and name)?"""
        return permits(self.actor, "read:audit", self.workspace_id, collection)

    def who(self, entry: dict[str, Any], collection: str | None = None) -> dict[str, Any]:
        """`entry` with its `actor` removed (None) unless the caller holds `read:audit` here."""
        if "actor" not in entry or self.audit(collection):
            return entry
        return {**entry, "actor": None}

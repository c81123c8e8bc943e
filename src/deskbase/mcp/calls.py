"""One tool call's context: the core, the calling token's actor, and the workspace it means."""

from __future__ import annotations

from dataclasses import dataclass

from deskbase.core.app import Deskbase
from deskbase.core.auth import sees
from deskbase.core.context import Actor
from deskbase.core.errors import ValidationFailed
from deskbase.core.grants import ANY, workspaces_of
from deskbase.core.scope import ReadScope

#: What the change log records as the channel of writes made through MCP.
SOURCE = "mcp"
#: Workspace ids named in the "workspace is required" message, at most.
NAMED = 10


@dataclass(frozen=True)
class Caller:
    core: Deskbase
    actor: Actor
    #: The workspace of a per-workspace endpoint (`/mcp/w/{ws}`); None on `/mcp`.
    fixed_workspace: str | None = None

    def workspace(self, given: str | None) -> str:
        """The workspace a call means: the endpoint's, the one given, or the only one the token reaches."""
        if self.fixed_workspace is not None:
            return self.fixed_workspace
        if given:
            return given
        only = single_workspace(self.core, self.actor)
        if only is not None:
            return only
        seen = visible_workspaces(self.core, self.actor)
        listed = ", ".join(seen[:NAMED]) + (" …" if len(seen) > NAMED else "")
        raise ValidationFailed(
            f"workspace is required: this token reaches {len(seen)} workspaces ({listed or 'none'})",
            [{"pointer": "/workspace", "message": "required"}],
        )

    def scope(self, workspace_id: str) -> ReadScope:
        return ReadScope(self.actor, workspace_id)


def visible_workspaces(core: Deskbase, actor: Actor) -> list[str]:
    """The existing workspaces inside the token's scope, as `GET /v1/workspaces` lists them."""
    return [w["id"] for w in core.workspaces.list() if sees(actor, w["id"])]


def single_workspace(core: Deskbase, actor: Actor, seen: list[str] | None = None) -> str | None:
    """The one workspace the token covers, if it covers exactly one: named alone in its grants (no store
    read), or else the only existing workspace in its scope (`seen`, when the caller has it)."""
    if not actor.is_admin:
        named = {w for g in actor.grants for w in workspaces_of(g)}
        if len(named) == 1 and ANY not in named:
            return next(iter(named))
    seen = visible_workspaces(core, actor) if seen is None else seen
    return seen[0] if len(seen) == 1 else None

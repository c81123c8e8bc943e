"""Who is acting and when: passed to every write so the change log can say who did what."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Actor:
    """The caller of a core operation: a token (id and name), a user signed in to the console (the user's id
    and name), or a system process (`system:<name>`). `user_id` names the person behind a user's session or
    personal token (None for service tokens and system processes).

    `source` names the channel the call came through (`api`, `mcp`, `console`, `mail`, `hook`, `sla` …); the
    change log records it beside the actor, so a history tells an agent's writes through MCP from the same
    token's REST calls.
    """

    id: str
    name: str
    grants: tuple[dict, ...] = field(default=())
    is_admin: bool = False
    source: str | None = None
    user_id: str | None = None

    @property
    def may_import(self) -> bool:
        """Import mode (historical timestamps) needs the `import` permission somewhere; `admin` and `*` include
        it. Writes check it per workspace and collection with `auth.permits`; this is the scope-free hint."""
        if self.is_admin:
            return True
        return any({"import", "admin", "*"} & set(g.get("permissions", [])) for g in self.grants)


SYSTEM = Actor(id="system", name="system", is_admin=True)


@dataclass(frozen=True)
class WriteOptions:
    """Per-request write options: `at` is an import-mode change time (None means now)."""

    at: datetime | None = None

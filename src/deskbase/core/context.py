"""Who is acting and when: passed to every write so the change log can say who did what."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Actor:
    """The caller of a core operation: a token (id and name), a user signed in to the console (the user's id
    and name), or a system process (`system:<name>`). `user_id` names the person behind a user's session or
    personal token (None for service tokens and system processes)."""

    id: str
    name: str
    grants: tuple[dict, ...] = field(default=())
    is_admin: bool = False
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

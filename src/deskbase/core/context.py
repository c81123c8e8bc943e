"""Who is acting and when: passed to every write so the change log can say who did what."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Actor:
    """The caller of a core operation: a token (id and name) or a system process (`system:<name>`)."""

    id: str
    name: str
    grants: tuple[dict, ...] = field(default=())
    is_admin: bool = False

    @property
    def may_import(self) -> bool:
        """Import mode (historical timestamps) needs the `import` permission; admin includes it."""
        if self.is_admin:
            return True
        return any(
            "import" in g.get("permissions", []) or "*" in g.get("permissions", []) for g in self.grants
        )


SYSTEM = Actor(id="system", name="system", is_admin=True)


@dataclass(frozen=True)
class WriteOptions:
    """Per-request write options: `at` is an import-mode change time (None means now)."""

    at: datetime | None = None

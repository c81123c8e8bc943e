"""Per-token preferences of adapters (the console's keyboard shortcuts, who "me" is in a queue).

They live in the store's key-value `meta` table, keyed by token id, so a setting follows the user across
browsers and restarts (WCAG 2.1.4 asks for a per-user switch, not a per-browser one). They are not records:
no schema, no change log, no replica — nothing else reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import delete, insert, select

from deskbase.core import tables as t
from deskbase.core.errors import ValidationFailed

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

PREFIX = "prefs:"
MAX_BYTES = 16384  #: room for a few dozen saved queue views


def _key(actor_id: str) -> str:
    key = PREFIX + actor_id
    if not actor_id or len(key) > 64:
        raise ValidationFailed(
            "invalid actor id for preferences", [{"pointer": "/actor", "message": "invalid"}]
        )
    return key


class Preferences:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    def get(self, actor_id: str) -> dict[str, Any]:
        with self.app.db.read() as conn:
            raw = conn.execute(select(t.meta.c.value).where(t.meta.c.key == _key(actor_id))).scalar()
        if raw is None:
            return {}
        value = orjson.loads(raw)
        return value if isinstance(value, dict) else {}

    def update(self, actor_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge `changes` into the stored preferences (a None value removes a key); returns the result."""
        key = _key(actor_id)
        with self.app.db.tx() as tx:
            tx.lock(key)  # two tabs saving at once merge in turn: neither change is lost
            raw = tx.conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()
            current = orjson.loads(raw) if raw else {}
            merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
            body = orjson.dumps(merged)
            if len(body) > MAX_BYTES:
                raise ValidationFailed(
                    f"preferences are limited to {MAX_BYTES} bytes", [{"pointer": "", "message": "too large"}]
                )
            tx.conn.execute(delete(t.meta).where(t.meta.c.key == key))
            tx.conn.execute(insert(t.meta).values(key=key, value=body.decode()))
        return merged

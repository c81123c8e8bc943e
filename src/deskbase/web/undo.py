"""Undo for the console's one-click actions that cannot be reversed from what the page still shows.

Unlinking a related ticket and deleting a saved view are undone by doing the write again (the toast's form
posts the link or the view back through the same route). A bulk change is not: the previous values of the
tickets it changed are gone from the page. They are kept here, in the store's key-value `meta` table (like
preferences: no schema, no change log, no replica), under `undo:<expiry>:<random>` for `KEEP_SECONDS`,
readable and takeable only by the token that made the change. The expiry leads the key, so expired entries
are removed with one range delete whenever a new one is kept.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import and_, delete, insert, select

from deskbase.core import tables as t

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

PREFIX = "undo:"
#: how long the toast offers Undo (console.js hides it then, unless it has focus or the pointer)
TOAST_SECONDS = 10
#: how long the server still accepts it: a slow click, or someone who tabbed to the toast, is not refused
KEEP_SECONDS = 60


@dataclass(frozen=True)
class Entry:
    kind: str
    workspace_id: str
    payload: dict[str, Any]


def _key(undo_id: str) -> str | None:
    """The meta key of an undo id (`<expiry>-<random>`), or None for anything malformed."""
    expiry, _, rand = undo_id.partition("-")
    if len(expiry) != 10 or not expiry.isdigit() or not (16 <= len(rand) <= 32) or not rand.isalnum():
        return None
    return f"{PREFIX}{expiry}:{rand}"


def keep(core: Deskbase, actor_id: str, workspace_id: str, kind: str, payload: dict[str, Any]) -> str:
    """Keep what undoes an action; returns its id (for the toast's form)."""
    now = int(core.clock.now().timestamp())
    undo_id = f"{now + KEEP_SECONDS:010d}-{secrets.token_hex(10)}"
    body = orjson.dumps({"actor": actor_id, "ws": workspace_id, "kind": kind, "payload": payload}).decode()
    with core.db.tx() as tx:
        tx.conn.execute(
            delete(t.meta).where(and_(t.meta.c.key >= PREFIX, t.meta.c.key < f"{PREFIX}{now:010d}"))
        )
        tx.conn.execute(insert(t.meta).values(key=_key(undo_id), value=body))
    return undo_id


def _live(core: Deskbase, undo_id: str, actor_id: str, raw: str | None) -> Entry | None:
    if raw is None or int(undo_id[:10]) <= int(core.clock.now().timestamp()):
        return None
    value = orjson.loads(raw)
    if value.get("actor") != actor_id:
        return None
    return Entry(str(value["kind"]), str(value["ws"]), dict(value.get("payload") or {}))


def peek(core: Deskbase, actor_id: str, undo_id: str) -> Entry | None:
    """The entry, if it is this actor's and not expired (the page decides whether to offer Undo)."""
    key = _key(undo_id)
    if key is None:
        return None
    with core.db.read() as conn:
        raw = conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()
    return _live(core, undo_id, actor_id, raw)


def take(core: Deskbase, actor_id: str, undo_id: str) -> Entry | None:
    """Remove and return the entry (once: a second click finds nothing), if it is this actor's and live."""
    key = _key(undo_id)
    if key is None:
        return None
    with core.db.tx() as tx:
        tx.lock(key)
        raw = tx.conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()
        entry = _live(core, undo_id, actor_id, raw)
        if entry is not None:
            tx.conn.execute(delete(t.meta).where(t.meta.c.key == key))
    return entry

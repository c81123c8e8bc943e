"""Undo-send: a console reply (or note) held for `reply_hold_seconds` before it is committed.

The hold lives in the store, not in the page: a row of the key-value `meta` table keyed
`hold:<send time>:<response id>`, so a closed tab neither loses the message nor sends it twice, and any
server process's loop sends it. The send time leads the key, so the loop finds what is due with one range
read. Why not commit at once and hold only the email: a committed reply is already the ticket's record
(webhooks, notifications, the API see it), and an "undo" would then be a deletion; held here, Undo leaves
nothing behind.

Exactly once: the loop first marks the entry `sending` (Undo is refused from then on), then commits it with
`support.tickets.add_response` under the response id chosen when it was held, then removes the entry. A
crash in between sends it again under the same id, which replaces the response rather than adding one.
A message that can no longer be committed (the ticket deleted, the token revoked, a field refused) goes
back to its author as their draft of the ticket, so nothing typed is lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import and_, delete, insert, select, update

from deskbase.core import loops
from deskbase.core import tables as t
from deskbase.core.context import Actor
from deskbase.core.errors import DeskbaseError
from deskbase.core.ids import uuid7
from deskbase.support import tickets

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

log = logging.getLogger(__name__)
PREFIX = "hold:"
NAME = "held-replies"
BATCH = 50


@dataclass(frozen=True)
class Held:
    id: str  #: `<send time, epoch seconds>-<response id>`, for the Undo form
    workspace_id: str
    ticket_id: str
    actor_id: str
    message: dict[str, Any]  #: what add_response takes (body, type, author, attachments, mentions)
    then: dict[str, Any]  #: set with it: status, priority, tags to add
    sending: bool = False

    @property
    def response_id(self) -> str:
        return self.id.partition("-")[2]


def _key(hold_id: str) -> str | None:
    at, _, rid = hold_id.partition("-")
    if len(at) != 10 or not at.isdigit() or len(rid) != 36:
        return None
    return f"{PREFIX}{at}:{rid}"


def _held(hold_id: str, raw: str) -> Held:
    v = orjson.loads(raw)
    return Held(
        hold_id, v["ws"], v["ticket"], v["actor"], v["message"], v.get("then") or {}, bool(v.get("sending"))
    )


def _body(h: Held, sending: bool) -> str:
    value = {"ws": h.workspace_id, "ticket": h.ticket_id, "actor": h.actor_id, "message": h.message}
    return orjson.dumps({**value, "then": h.then, "sending": sending}).decode()


def hold(
    core: Deskbase,
    workspace_id: str,
    ticket_id: str,
    actor: Actor,
    message: dict[str, Any],
    then: dict[str, Any],
    seconds: int,
) -> Held:
    """Keep the message to be committed `seconds` from now; returns the entry (its id is Undo's)."""
    at = int((core.clock.now() + timedelta(seconds=seconds)).timestamp())
    h = Held(f"{at:010d}-{uuid7()}", workspace_id, ticket_id, actor.id, message, then)
    with core.db.tx() as tx:
        tx.conn.execute(insert(t.meta).values(key=_key(h.id), value=_body(h, False)))
    return h


def cancel(core: Deskbase, actor_id: str, hold_id: str) -> Held | None:
    """Undo: remove the held message and return it, if it is this actor's and not being sent yet."""
    key = _key(hold_id)
    if key is None:
        return None
    with core.db.tx() as tx:
        tx.lock(key)
        raw = tx.conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()
        h = _held(hold_id, raw) if raw is not None else None
        if h is None or h.actor_id != actor_id or h.sending:
            return None
        tx.conn.execute(delete(t.meta).where(t.meta.c.key == key))
    return h


def pending(core: Deskbase, actor_id: str, hold_id: str) -> Held | None:
    """The entry while it may still be undone (the page offers Undo only then)."""
    key = _key(hold_id)
    if key is None:
        return None
    with core.db.read() as conn:
        raw = conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()
    h = _held(hold_id, raw) if raw is not None else None
    return h if h is not None and h.actor_id == actor_id and not h.sending else None


def _claim(core: Deskbase, key: str, hold_id: str) -> Held | None:
    """Mark the entry as being sent (from now on Undo is refused); None when it was undone meanwhile."""
    with core.db.tx() as tx:
        tx.lock(key)
        raw = tx.conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()
        if raw is None:
            return None
        h = _held(hold_id, raw)
        if not h.sending:
            tx.conn.execute(update(t.meta).where(t.meta.c.key == key).values(value=_body(h, True)))
    return h


def send(core: Deskbase, h: Held) -> None:
    """Commit a claimed message with what was chosen with it, then forget the entry."""
    try:
        actor = core.tokens.authenticate_id(h.actor_id, source="console")
        tickets.add_response(core, h.workspace_id, h.ticket_id, h.message, actor, response_id=h.response_id)
    except DeskbaseError as exc:
        log.warning("held reply %s not sent (%s): kept as its author's draft", h.id, exc.message)
        body, kind = str(h.message.get("body") or ""), str(h.message.get("type") or "reply")
        core.drafts.save(h.workspace_id, h.ticket_id, h.actor_id, body, kind)
    else:
        try:
            _then(core, h, actor)
        except DeskbaseError as exc:  # the message is sent; a status that no longer applies is not
            log.warning("held reply %s sent; its changes were refused (%s)", h.id, exc.message)
        core.reads.mark(h.workspace_id, [h.ticket_id], actor.id, core.settled_seq(h.workspace_id))
    with core.db.tx() as tx:
        tx.conn.execute(delete(t.meta).where(t.meta.c.key == _key(h.id)))


def _then(core: Deskbase, h: Held, actor: Actor) -> None:
    current = core.records.get(h.workspace_id, "tickets", h.ticket_id)["data"]
    changes: dict[str, Any] = {}
    for name in ("status", "priority"):
        if h.then.get(name) and h.then[name] != current.get(name):
            changes[name] = h.then[name]
    tags = [str(x) for x in current.get("tags") or []]
    added = [str(x) for x in h.then.get("tags") or [] if str(x) not in tags]
    if added:
        changes["tags"] = tags + added
    if changes:
        core.records.patch(h.workspace_id, "tickets", h.ticket_id, changes, actor)


def due(core: Deskbase, limit: int = BATCH) -> list[tuple[str, str]]:
    """(meta key, hold id) of the entries whose time has come, oldest first."""
    now = int(core.clock.now().timestamp())
    with core.db.read() as conn:
        keys = conn.execute(
            select(t.meta.c.key)
            .where(and_(t.meta.c.key >= PREFIX, t.meta.c.key < f"{PREFIX}{now + 1:010d}"))
            .order_by(t.meta.c.key)
            .limit(limit)
        ).scalars()
        out = []
        for key in keys:
            at, _, rid = key[len(PREFIX) :].partition(":")
            out.append((key, f"{at}-{rid}"))
    return out


def send_due(core: Deskbase) -> int:
    """Send what is due (the loop's step, and tests'); returns how many were sent or given back."""
    done = 0
    for key, hold_id in due(core):
        h = _claim(core, key, hold_id)
        if h is not None:
            send(core, h)
            done += 1
    return done


def next_due_in(core: Deskbase) -> float | None:
    with core.db.read() as conn:
        key = conn.execute(
            select(t.meta.c.key)
            .where(t.meta.c.key >= PREFIX, t.meta.c.key < PREFIX + "~")
            .order_by(t.meta.c.key)
            .limit(1)
        ).scalar()
    if key is None:
        return None
    return max(0.0, int(key[len(PREFIX) : len(PREFIX) + 10]) - core.clock.now().timestamp())


class HeldReplies:
    """The background loop that sends held replies when their time comes (one process at a time)."""

    def __init__(self, core: Deskbase) -> None:
        self.core = core
        self.loop = loops.Loop(core.db, core.clock, NAME, self.step, idle_seconds=1.0)

    def step(self) -> float | None:
        if send_due(self.core) >= BATCH:
            return 0.0
        return next_due_in(self.core)

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

"""Triggers and hooks stop when the token that configured them expires, as they do when it is revoked.

Expiry has no event (nothing writes when a token's time runs out), so it is checked where the owner's
grants would be used: before the dispatcher matches events to a trigger and before it sends a trigger's
deliveries, and when a hook's ingest URL is called. A token's `expires_at` never changes once it is minted, so
each owner's expiry is read once and kept (`OwnerExpiry.expires_at`): a check is a dictionary look-up. A
trigger or hook found past its owner's expiry is disabled in its own transaction with the reason recorded
(`disabled_reason`, shown with the trigger's health and on the hook); updating it with a live token
re-enables it and makes that token the owner, as after a revocation. Besides, the dispatcher sweeps for
expired owners whenever the earliest known expiry passes (or every SWEEP_SECONDS, to see triggers and hooks
made by other processes), so an idle trigger is shown disabled too, not only one with something to send.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from deskbase.core import tables as ct
from deskbase.core.app import Deskbase
from deskbase.core.clock import iso
from deskbase.events.tables import hooks, triggers

log = logging.getLogger(__name__)
audit_log = logging.getLogger("deskbase.audit")
SWEEP_SECONDS = 30.0


def reason(expired_at: datetime) -> str:
    return f"the token that configured it expired at {iso(expired_at)}"


class OwnerExpiry:
    """When owners' tokens expire (cached, thread-safe), and the disabling of what they configured."""

    def __init__(self, core: Deskbase) -> None:
        self.core = core
        self._known: dict[str, datetime | None] = {}  # owner id -> its token's expiry (None: never)
        self._lock = threading.Lock()
        self._next: datetime | None = None  # the earliest expiry still ahead, as last swept
        self._swept_at: float | None = None  # monotonic time of the last sweep

    def expires_at(self, conn: Connection, owner_id: str) -> datetime | None:
        """When the owner's token expires; None when it never does (or the owner is not a token: a person,
        whose standing is narrowed through `on_tokens_revoked`)."""
        with self._lock:
            if owner_id in self._known:
                return self._known[owner_id]
        found = conn.execute(select(ct.tokens.c.expires_at).where(ct.tokens.c.id == owner_id)).scalar()
        with self._lock:
            self._known[owner_id] = found
        return found  # type: ignore[no-any-return]

    def expired(self, conn: Connection, owner_id: str, now: datetime) -> datetime | None:
        """The owner's expiry if it has passed at `now`, else None."""
        at = self.expires_at(conn, owner_id)
        return at if at is not None and at <= now else None

    def expired_owners(self, conn: Connection, owner_ids: Iterable[str], now: datetime) -> set[str]:
        return {o for o in set(owner_ids) if self.expired(conn, o, now) is not None}

    # ---- disabling ----------------------------------------------------------------------------------
    def disable_trigger(self, ws: str, tid: str, owner_id: str, expired_at: datetime) -> None:
        """Disable the trigger if it is still enabled and still owned by the expired token."""
        self._disable(triggers, ws, tid, owner_id, expired_at, "trigger")

    def disable_hook(self, ws: str, hid: str, owner_id: str, expired_at: datetime) -> None:
        self._disable(hooks, ws, hid, owner_id, expired_at, "hook")

    def _disable(self, table: Any, ws: str, oid: str, owner_id: str, expired_at: datetime, what: str) -> None:
        now = self.core.clock.now()
        with self.core.db.tx() as tx:
            tx.lock(f"{what}:{ws}:{oid}")  # an admin's edit of it takes turns
            done = tx.conn.execute(
                update(table)
                .where(
                    table.c.workspace_id == ws,
                    table.c.id == oid,
                    table.c.owner_id == owner_id,  # re-owned by a live token meanwhile: left alone
                    table.c.enabled.is_(True),
                )
                .values(
                    enabled=False,
                    disabled_reason=reason(expired_at),
                    version=table.c.version + 1,
                    updated_at=now,
                )
            )
        if done.rowcount:
            audit_log.info("%s %s/%s disabled: its owner token %s expired", what, ws, oid, owner_id)

    def sweep(self, now: datetime) -> None:
        """Disable every enabled trigger and hook whose owner's token has expired. Cheap when nothing is
        due: it reads the store only once the earliest known expiry has passed, or every SWEEP_SECONDS."""
        with self._lock:
            due = self._swept_at is None or (self._next is not None and self._next <= now)
            if not due and time.monotonic() - (self._swept_at or 0.0) < SWEEP_SECONDS:
                return
            self._swept_at = time.monotonic()
        ahead: list[datetime] = []
        tok = ct.tokens
        for table, what in ((triggers, "trigger"), (hooks, "hook")):
            with self.core.db.read() as conn:
                rows = conn.execute(
                    select(table.c.workspace_id, table.c.id, table.c.owner_id, tok.c.expires_at)
                    .join(tok, tok.c.id == table.c.owner_id)
                    .where(table.c.enabled.is_(True), tok.c.expires_at.is_not(None))
                ).all()
            for row in rows:
                if row.expires_at > now:
                    ahead.append(row.expires_at)
                else:
                    self._disable(table, row.workspace_id, row.id, row.owner_id, row.expires_at, what)
        with self._lock:
            self._next = min(ahead) if ahead else None

"""The webhooks service: what adapters call (trigger management, delivery log, retry, replay, test; inbound
hooks and their ingest) and `install`, which wires the stores, the sender and the dispatcher onto a core."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from deskbase.core import tables as ct
from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize, permits
from deskbase.core.context import Actor
from deskbase.core.errors import ValidationFailed
from deskbase.core.ids import uuid7
from deskbase.core.secrets import SecretBox
from deskbase.events import build, deliveries, ingest, matching, retry, ssrf
from deskbase.events.dispatcher import Dispatcher
from deskbase.events.expiry import OwnerExpiry
from deskbase.events.health import Health, read_health
from deskbase.events.hooks import Hooks
from deskbase.events.hooks import public as hook_public
from deskbase.events.ingest import Ingest
from deskbase.events.sender import Sender
from deskbase.events.tables import hooks as hooks_table
from deskbase.events.tables import triggers
from deskbase.events.triggers import Triggers, public, spec

REPLAY_MAX = 10_000
#: Managing triggers (and reading their log) needs `admin` over the whole workspace: a trigger delivers
#: every matching event, so a grant limited to some collections is not enough.
MANAGE = "admin"


def authorize_manage(actor: Actor, ws: str) -> None:
    """Raise unless the actor may manage the workspace's integrations (the API and the console ask this)."""
    authorize(actor, MANAGE, ws, whole_workspace=True)


def may_manage(actor: Actor, ws: str) -> bool:
    """`authorize_manage` as a yes/no, for showing or hiding the way to the integrations page."""
    return permits(actor, MANAGE, ws, whole_workspace=True)


class Webhooks:
    def __init__(self, core: Deskbase) -> None:
        s = core.settings
        self.core = core
        allowed = ssrf.parse_networks(s.webhook_allow_networks)
        box = SecretBox.for_settings(s.secret_key, s.data_path)
        self.triggers = Triggers(core, box, allowed)
        expiry = OwnerExpiry(core)
        self.hooks = Hooks(core, box, expiry)
        core.hooks.on_change_in_tx(self.hooks.forget_deleted_workspaces)
        core.hooks.on_change_in_tx(self.triggers.forget_deleted_workspaces)
        core.hooks.on_tokens_revoked(self.triggers.disable_revoked)
        core.hooks.on_tokens_revoked(self.hooks.disable_revoked)
        self.ingest = Ingest(core, self.hooks, s.hook_max_body_bytes)
        self.dispatcher = Dispatcher(
            core,
            self.triggers,
            Sender(allowed, s.webhook_timeout_seconds),
            retry.parse_schedule(s.webhook_retry_schedule),
            timedelta(seconds=s.webhook_disable_after_seconds),
            timedelta(days=s.webhook_retention_days),
            s.webhook_concurrency,
            expiry,
            s.webhook_max_inflight_per_trigger,
            s.webhook_slow_seconds,
        )

    def start(self) -> None:
        self.dispatcher.start()

    def stop(self) -> None:
        self.dispatcher.stop()

    # ---- health ---------------------------------------------------------------------------------------
    def overview(self, ws: str) -> list[tuple[dict[str, Any], Health]]:
        """Every trigger of the workspace with its health, read in one transaction."""
        now = self.core.clock.now()
        with self.core.db.read() as conn:
            self.core.workspaces.require(conn, ws)
            rows = conn.execute(select(triggers).where(triggers.c.workspace_id == ws).order_by(triggers.c.id))
            return [(public(r), read_health(conn, ws, r.id, now)) for r in rows.all()]

    def health(self, ws: str, tid: str) -> tuple[dict[str, Any], Health]:
        """One trigger with its health, read in one transaction."""
        trigger, h, _ = self.detail(ws, tid, None, 0, None)
        return trigger, h

    def detail(
        self, ws: str, tid: str, cursor: str | None, limit: int, status: str | None
    ) -> tuple[dict[str, Any], Health, dict[str, Any]]:
        """One trigger, its health and a page of its log (`limit` 0: none), read in one transaction so the
        counts and the rows agree."""
        now = self.core.clock.now()
        with self.core.db.read() as conn:
            self.core.workspaces.require(conn, ws)
            row = self.triggers._row(conn, ws, tid)
            page = (
                deliveries.log(conn, ws, tid, cursor, limit, status)
                if limit
                else {"data": [], "next_cursor": None}
            )
            return public(row), read_health(conn, ws, tid, now), page

    # ---- inbound hooks --------------------------------------------------------------------------------
    def hook_overview(self, ws: str) -> list[tuple[dict[str, Any], ingest.Summary]]:
        """Every hook of the workspace with its ingest summary, read in one transaction."""
        with self.core.db.read() as conn:
            self.core.workspaces.require(conn, ws)
            rows = conn.execute(
                select(hooks_table).where(hooks_table.c.workspace_id == ws).order_by(hooks_table.c.id)
            )
            return [(hook_public(r), ingest.summary(conn, ws, r.id)) for r in rows.all()]

    def hook_detail(
        self, ws: str, hid: str, cursor: str | None, limit: int, status: str | None
    ) -> tuple[dict[str, Any], ingest.Summary, dict[str, Any]]:
        """One hook, its summary and a page of its ingest log, read in one transaction so the counts and
        the rows agree."""
        with self.core.db.read() as conn:
            self.core.workspaces.require(conn, ws)
            row = self.hooks._row(conn, ws, hid)
            page = ingest.log_page(conn, ws, hid, cursor, limit, status)
            return hook_public(row), ingest.summary(conn, ws, hid), page

    # ---- the delivery log ---------------------------------------------------------------------------
    def deliveries(
        self, ws: str, tid: str, cursor: str | None, limit: int, status: str | None
    ) -> dict[str, Any]:
        self.triggers.get(ws, tid)
        with self.core.db.read() as conn:
            return deliveries.log(conn, ws, tid, cursor, limit, status)

    def delivery(self, ws: str, delivery_id: str) -> dict[str, Any]:
        with self.core.db.read() as conn:
            row = deliveries.one(conn, ws, delivery_id)
            return deliveries.public(row, deliveries.attempts_of(conn, delivery_id))

    def retry(self, ws: str, delivery_id: str) -> dict[str, Any]:
        """Send a delivery again now (also a delivered or exhausted one), keeping its event id."""
        now = self.core.clock.now()
        with self.core.db.tx() as tx:
            deliveries.requeue(tx.conn, deliveries.one(tx.conn, ws, delivery_id), now)
        self.dispatcher.wake()
        return self.delivery(ws, delivery_id)

    def replay(self, ws: str, tid: str, since_seq: int) -> dict[str, Any]:
        """Queue again every event from `since_seq` on that the trigger matches now (its type, collection,
        filter and owner's scope; events from before the trigger existed included). Up to REPLAY_MAX events a
        call: `next_since_seq` says where to go on."""
        if since_seq < 0:
            raise ValidationFailed("since_seq is >= 0", [{"pointer": "/since_seq", "message": ">= 0"}])
        self.triggers.get(ws, tid)
        now = self.core.clock.now()
        c = ct.changes.c
        with self.core.db.read() as conn:
            row = self.triggers._row(conn, ws, tid)
            s = spec(row)
            s = dataclasses.replace(s, start_seq=0)
            wanted = set(matching.TYPES) if matching.ALL in s.events else set(s.events)
            final = self.core.db.horizon.seq(conn)  # `next_since_seq` must not pass a change in flight
            q = select(ct.changes).where(c.workspace_id == ws, c.seq >= since_seq)
            if final is not None:
                q = q.where(c.seq <= final)
            rows = conn.execute(q.order_by(c.seq).limit(REPLAY_MAX)).all()
            if not rows:
                return {"queued": 0, "next_since_seq": None}
            lo, hi = since_seq - 1, int(rows[-1].seq)
            events = build.from_changes(conn, rows, wanted) + [
                e for e in build.from_sla(conn, lo, hi, wanted) if e.workspace_id == ws
            ]
        events.sort(key=lambda e: (e.seq, e.id))
        pairs = [(tid, e) for e in events if matching.matches(s, e)]
        with self.core.db.tx() as tx:
            queued = deliveries.enqueue(tx.conn, pairs, "replay", now, prefix=f"replay:{uuid7()}:")
        self.dispatcher.wake()
        return {"queued": queued, "next_since_seq": hi + 1 if len(rows) == REPLAY_MAX else None}

    def test(self, ws: str, tid: str, actor: Actor) -> dict[str, Any]:
        """Queue a `trigger.test` event for the trigger (it goes out like any other delivery)."""
        self.triggers.get(ws, tid)
        now = self.core.clock.now()
        with self.core.db.read() as conn:
            head = int(
                conn.execute(select(ct.changes.c.seq).order_by(ct.changes.c.seq.desc()).limit(1)).scalar()
                or 0
            )
        event = matching.Event(
            f"evt_test_{uuid7()}",
            matching.TEST_TYPE,
            ws,
            head,
            now,
            {"trigger_id": tid, "message": "a test event sent on request", "requested_by": actor.id},
            f"test:{tid}",
            (),
            (),
        )
        with self.core.db.tx() as tx:
            deliveries.enqueue(tx.conn, [(tid, event)], "test", now)
            row = tx.conn.execute(
                select(deliveries.d).where(
                    deliveries.d.c.workspace_id == ws, deliveries.d.c.event_id == event.id
                )
            ).one()
        self.dispatcher.wake()
        return self.delivery(ws, row.id)


def install(core: Deskbase) -> Webhooks:
    hooks = Webhooks(core)
    core.extensions[Webhooks] = hooks
    return hooks

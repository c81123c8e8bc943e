"""The trigger store: create/replace, read, delete, rotate secrets, disable. Secrets are sealed at rest and
come back to a caller exactly once (on create and on rotation).

A trigger delivers with the read scope of the token that last configured it: its grants are recorded on
every create or update and applied to each event (`matching.visible`).
"""

from __future__ import annotations

import builtins
import logging
import threading
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from deskbase.core import filterlang
from deskbase.core import tables as ct
from deskbase.core.app import Deskbase
from deskbase.core.changelog import Change
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.errors import InvalidFilter, NotFound, ValidationFailed
from deskbase.core.hooks import Revocation
from deskbase.core.ids import check_slug
from deskbase.core.secrets import SecretBox
from deskbase.events import matching, signing, ssrf
from deskbase.events.tables import triggers, webhook_attempts, webhook_deliveries
from deskbase.events.versions import check_version

ROTATION_OVERLAP = timedelta(hours=24)
MAX_URL = 2000
MAX_DESCRIPTION = 2000
audit_log = logging.getLogger("deskbase.audit")


#: What a replace sets besides `enabled` (the API's TriggerPut).
SETTINGS = ("url", "events", "collections", "filter", "include_hook_writes", "description")


def public(row: Any) -> dict[str, Any]:
    """The wire form of a trigger: never its secrets."""
    return {
        "id": row.id,
        "workspace_id": row.workspace_id,
        "url": row.url,
        "events": row.events,
        "collections": row.collections,
        "filter": row.filter,
        "include_hook_writes": bool(row.include_hook_writes),
        "enabled": bool(row.enabled),
        "disabled_reason": row.disabled_reason,
        "description": row.description,
        "owner": row.owner_id,
        "failing_since": iso(row.failing_since) if row.failing_since else None,
        "previous_secret_valid_until": iso(row.previous_until) if row.previous_secret else None,
        "version": row.version,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def spec(row: Any) -> matching.TriggerSpec:
    owner = Actor(
        id=row.owner_id, name=row.owner_id, grants=tuple(row.owner_grants), is_admin=bool(row.owner_admin)
    )
    return matching.TriggerSpec(
        workspace_id=row.workspace_id,
        id=row.id,
        events=frozenset(row.events),
        collections=frozenset(row.collections) if row.collections is not None else None,
        filter=matching.compile_filter(row.filter),
        owner=owner,
        start_seq=int(row.start_seq),
        include_hook_writes=bool(row.include_hook_writes),
    )


def _errors(body: dict[str, Any], allowed: tuple[ssrf.Network, ...]) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    url = body.get("url")
    if not isinstance(url, str) or len(url) > MAX_URL:
        errors.append({"pointer": "/url", "message": f"an http(s) URL of at most {MAX_URL} characters"})
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors.append({"pointer": "/url", "message": "an absolute http:// or https:// URL"})
        else:
            try:
                reason = ssrf.refusal(parts.hostname, allowed)
            except ValueError:
                reason = None  # a host name: checked on each resolved address when connecting
            if reason is not None:
                errors.append({"pointer": "/url", "message": f"webhooks may not reach {reason}"})
    events = body.get("events")
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        errors.append(
            {"pointer": "/events", "message": f"a non-empty list of: *, {', '.join(matching.TYPES)}"}
        )
    else:
        for i, e in enumerate(events):
            if e in matching.check_types([e]):
                errors.append({"pointer": f"/events/{i}", "message": f"unknown event type {e!r}"})
    colls = body.get("collections")
    if colls is not None:
        if not isinstance(colls, list) or not colls:
            errors.append(
                {"pointer": "/collections", "message": "a non-empty list of collection ids, or null"}
            )
        else:
            for i, c in enumerate(colls):
                try:
                    check_slug(c, "collection")
                except Exception:
                    errors.append({"pointer": f"/collections/{i}", "message": "a collection id"})
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > MAX_DESCRIPTION):
        errors.append({"pointer": "/description", "message": f"text of at most {MAX_DESCRIPTION} characters"})
    try:
        matching.compile_filter(body.get("filter"))
    except filterlang.FilterError as exc:
        errors.append({"pointer": exc.pointer, "message": exc.message})
    except InvalidFilter as exc:
        errors.append({"pointer": "/filter", "message": exc.message})
    return errors


_ENABLED = select(triggers).where(triggers.c.enabled.is_(True))
#: What identifies a version of an enabled trigger's spec: every edit (API, rotation, revocation, expiry)
#: moves `version`; a trigger deleted and created again under its id starts at version 1 again, but with a
#: fresh secret (sealed with a random IV), so the sealed secret tells the two apart even at one instant.
_ENABLED_KEYS = select(triggers.c.workspace_id, triggers.c.id, triggers.c.version, triggers.c.secret).where(
    triggers.c.enabled.is_(True)
)
SpecKey = tuple[str, str]
SpecVersion = tuple[int, str | None]


class Triggers:
    def __init__(self, core: Deskbase, box: SecretBox, allowed: tuple[ssrf.Network, ...]) -> None:
        self.core = core
        self.box = box
        self.allowed = allowed
        #: Moves after each commit that may enable a trigger in this process, so the dispatcher, which wakes
        #: on commits only while some trigger is enabled, knows to look again (another process's change is
        #: seen at its next timed turn).
        self.generation = 0
        #: Compiled specs of enabled triggers by (workspace, id), with the version they were built at (spec
        #: None: its filter is invalid). The dispatcher asks every turn, i.e. after nearly every commit.
        self._specs: dict[SpecKey, tuple[SpecVersion, matching.TriggerSpec | None]] = {}
        self._specs_lock = threading.Lock()

    def _row(self, conn: Connection, ws: str, tid: str) -> Any:
        row = conn.execute(
            select(triggers).where(triggers.c.workspace_id == ws, triggers.c.id == tid)
        ).first()
        if row is None:
            raise NotFound(f"trigger {tid!r} not found", {"trigger": tid})
        return row

    def problems(self, body: dict[str, Any]) -> builtins.list[dict[str, str]]:
        """What `put` would refuse in this body (JSON-pointer errors), without writing anything: a form that
        already found a fault of its own shows every other one beside it."""
        return _errors(body, self.allowed)

    def put(
        self, ws: str, tid: str, body: dict[str, Any], actor: Actor, if_version: int | None = None
    ) -> tuple[dict[str, Any], str | None]:
        """Create (returns the new secret, shown once) or replace a trigger's settings (no secret).
        `if_version`: replace only the version the caller read (412 otherwise), so two admins editing at once
        cannot silently undo each other."""
        check_slug(tid, "trigger")
        errors = _errors(body, self.allowed)
        if errors:
            raise ValidationFailed("invalid trigger", errors)
        now = self.core.clock.now()
        values = {
            "url": body["url"],
            "events": list(dict.fromkeys(body["events"])),
            "collections": body.get("collections"),
            "filter": body.get("filter"),
            "include_hook_writes": bool(body.get("include_hook_writes", False)),
            "enabled": bool(body.get("enabled", True)),
            "description": body.get("description"),
            "owner_id": actor.id,
            "owner_grants": list(actor.grants),
            "owner_admin": actor.is_admin,
            "updated_at": now,
        }
        secret = None
        with self.core.db.tx() as tx:
            tx.lock(f"trigger:{ws}:{tid}")  # two edits of one trigger take turns (If-Match sees the first)
            self.core.workspaces.require(tx.conn, ws)
            old = tx.conn.execute(
                select(triggers).where(triggers.c.workspace_id == ws, triggers.c.id == tid)
            ).first()
            check_version(f"trigger {tid}", old, if_version)
            if old is None:
                secret = signing.new_secret()
                head = tx.conn.execute(select(func.max(ct.changes.c.seq))).scalar() or 0
                tx.conn.execute(
                    insert(triggers).values(
                        workspace_id=ws,
                        id=tid,
                        secret=self.box.seal(secret),
                        start_seq=int(head),
                        version=1,
                        created_at=now,
                        **values,
                    )
                )
            else:
                if values["enabled"]:
                    values.update(
                        disabled_reason=None, failing_since=None if not old.enabled else old.failing_since
                    )
                    if not old.enabled:
                        self._resume(tx.conn, ws, tid, now)
                elif old.enabled:
                    values["disabled_reason"] = "disabled by " + actor.id
                tx.conn.execute(
                    update(triggers)
                    .where(triggers.c.workspace_id == ws, triggers.c.id == tid)
                    .values(version=old.version + 1, **values)
                )
            row = self._row(tx.conn, ws, tid)
        if row.enabled:
            self.generation += 1
        audit_log.info("trigger %s/%s %s by %s", ws, tid, "created" if secret else "updated", actor.id)
        return public(row), secret

    def _resume(self, conn: Connection, ws: str, tid: str, now: datetime) -> None:
        """A re-enabled trigger sends what waited (deliveries parked by 410 or by the failure limit)."""
        d = webhook_deliveries
        conn.execute(
            update(d)
            .where(d.c.workspace_id == ws, d.c.trigger_id == tid, d.c.status.in_(("pending", "failed")))
            .values(next_attempt_at=now)
        )

    def get(self, ws: str, tid: str) -> dict[str, Any]:
        with self.core.db.read() as conn:
            self.core.workspaces.require(conn, ws)
            return public(self._row(conn, ws, tid))

    def list(self, ws: str) -> builtins.list[dict[str, Any]]:
        with self.core.db.read() as conn:
            self.core.workspaces.require(conn, ws)
            rows = conn.execute(select(triggers).where(triggers.c.workspace_id == ws).order_by(triggers.c.id))
            return [public(r) for r in rows]

    def delete(self, ws: str, tid: str, actor: Actor) -> None:
        """Remove the trigger with its queue and delivery log."""
        d = webhook_deliveries
        with self.core.db.tx() as tx:
            tx.lock(f"trigger:{ws}:{tid}")
            self._row(tx.conn, ws, tid)
            ids = select(d.c.id).where(d.c.workspace_id == ws, d.c.trigger_id == tid)
            tx.conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids)))
            tx.conn.execute(delete(d).where(d.c.workspace_id == ws, d.c.trigger_id == tid))
            tx.conn.execute(delete(triggers).where(triggers.c.workspace_id == ws, triggers.c.id == tid))
        audit_log.info("trigger %s/%s deleted by %s", ws, tid, actor.id)

    def forget_deleted_workspaces(self, tx: Tx, entries: builtins.list[Change]) -> None:
        """In the transaction that deletes a workspace, delete its triggers, queue and log too: a workspace made
        later under the same id must not inherit triggers (and the grants recorded for their owners)."""
        d = webhook_deliveries
        for ws in {c.workspace_id for c in entries if c.entity == "workspace" and c.op == "delete"}:
            ids = select(d.c.id).where(d.c.workspace_id == ws)
            tx.conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids)))
            tx.conn.execute(delete(d).where(d.c.workspace_id == ws))
            tx.conn.execute(delete(triggers).where(triggers.c.workspace_id == ws))

    def set_enabled(
        self, ws: str, tid: str, enabled: bool, actor: Actor, if_version: int | None = None
    ) -> dict[str, Any]:
        """Enable or disable: a replace with every other setting as stored (so none is dropped by a caller that
        does not know them all), at `if_version` when given."""
        current = self.get(ws, tid)
        body = {k: current[k] for k in SETTINGS} | {"enabled": enabled}
        return self.put(ws, tid, body, actor, current["version"] if if_version is None else if_version)[0]

    def disable_revoked(self, tx: Tx, gone: Revocation) -> None:
        """A trigger delivers with its owner's recorded read scope; once those grants end (the token revoked,
        its user suspended, demoted or removed) it must not go on sending what they could read. Re-enabling
        it (by a live token) makes that token the owner."""
        now = self.core.clock.now()
        owned = triggers.c.owner_id.in_(sorted(gone.owners))
        where = [owned, triggers.c.enabled]
        if gone.workspace_id is not None:
            where.append(triggers.c.workspace_id == gone.workspace_id)
        rows = tx.conn.execute(select(triggers.c.workspace_id, triggers.c.id).where(*where))
        for row in rows.all():
            tx.conn.execute(
                update(triggers)
                .where(triggers.c.workspace_id == row.workspace_id, triggers.c.id == row.id)
                .values(
                    enabled=False,
                    disabled_reason=gone.reason,
                    version=triggers.c.version + 1,
                    updated_at=now,
                )
            )
            audit_log.info("trigger %s/%s disabled: %s", row.workspace_id, row.id, gone.reason)

    def rotate(self, ws: str, tid: str, actor: Actor) -> tuple[dict[str, Any], str]:
        """A new secret; the current one keeps signing (beside it) for 24 hours."""
        secret = signing.new_secret()
        now = self.core.clock.now()
        with self.core.db.tx() as tx:
            tx.lock(f"trigger:{ws}:{tid}")
            old = self._row(tx.conn, ws, tid)
            tx.conn.execute(
                update(triggers)
                .where(triggers.c.workspace_id == ws, triggers.c.id == tid)
                .values(
                    secret=self.box.seal(secret),
                    previous_secret=old.secret,
                    previous_until=now + ROTATION_OVERLAP,
                    version=old.version + 1,
                    updated_at=now,
                )
            )
            row = self._row(tx.conn, ws, tid)
        audit_log.info("trigger %s/%s secret rotated by %s", ws, tid, actor.id)
        return public(row), secret

    def signing_secrets(self, row: Any, now: datetime) -> builtins.list[str]:
        return signing.live_secrets(self.box, row, now)

    def enabled_specs(self, conn: Connection) -> dict[str, builtins.list[matching.TriggerSpec]]:
        """Enabled triggers by workspace (what the dispatcher matches events against). A turn reads only the
        enabled triggers' versions; rows are read and compiled again only for triggers that changed since (in
        this process or another), so the cost of a turn does not grow with filters to compile."""
        keys = {(r.workspace_id, r.id): (int(r.version), r.secret) for r in conn.execute(_ENABLED_KEYS)}
        with self._specs_lock:
            cached = {k: v for k, v in self._specs.items() if keys.get(k) == v[0]}
        if len(cached) < len(keys):  # something changed: the full rows are the truth, compiled where new
            known, cached = cached, {}
            for row in conn.execute(_ENABLED):
                key = (row.workspace_id, row.id)
                version = (int(row.version), row.secret)
                if key in known and known[key][0] == version:
                    cached[key] = known[key]
                    continue
                try:
                    cached[key] = (version, spec(row))
                except (filterlang.FilterError, InvalidFilter):
                    cached[key] = (version, None)
                    logging.getLogger(__name__).warning(
                        "trigger %s/%s has an invalid filter", row.workspace_id, row.id
                    )
        with self._specs_lock:
            self._specs = cached
        out: dict[str, builtins.list[matching.TriggerSpec]] = {}
        for _version, found in cached.values():
            if found is not None:
                out.setdefault(found.workspace_id, []).append(found)
        return out

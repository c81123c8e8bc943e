"""The inbound hook store: create/replace, read, delete, rotate secrets. A hook turns POSTs to its ingest URL
into records of one collection (events/ingest.py does that).

A hook writes with the write scope of the token that last configured it (its grants are recorded on every
create or update, as a trigger's are), so it can never write a collection that token could not. Its ingest
URL carries an unguessable key rather than the hook's id: ids are per workspace and easy to guess. Signing
secrets are sealed at rest and come back to a caller exactly once (on create, on rotation, and when an update
switches verification on).
"""

from __future__ import annotations

import builtins
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize
from deskbase.core.changelog import Change
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.errors import Conflict, NotFound, ValidationFailed
from deskbase.core.hooks import Revocation
from deskbase.core.ids import SLUG_RE, check_slug
from deskbase.core.secrets import SecretBox
from deskbase.events import mapping, signing
from deskbase.events.expiry import OwnerExpiry
from deskbase.events.tables import hook_ingests, hooks
from deskbase.events.versions import check_version

ROTATION_OVERLAP = timedelta(hours=24)
VERIFY = ("standard-webhooks", "none")
KEY_PREFIX = "hk_"
MAX_DESCRIPTION = 2000  #: the API's schema says the same (HookPut)
audit_log = logging.getLogger("deskbase.audit")


#: What a replace sets besides `enabled` (the API's HookPut).
SETTINGS = ("collection", "mapping", "external_id", "verify", "description")


def ingest_path(key: str) -> str:
    return f"/v1/hooks/{key}/ingest"


def actor_of(row: Any) -> Actor:
    """Who a hook's writes are by (`hook:<id>` in the change log) and what it may write (its owner's grants)."""
    return Actor(
        id=f"hook:{row.id}",
        name=f"hook {row.id}",
        grants=tuple(row.owner_grants),
        is_admin=bool(row.owner_admin),
        source="hook",
    )


def public(row: Any) -> dict[str, Any]:
    """The wire form of a hook: never its secrets."""
    return {
        "id": row.id,
        "workspace_id": row.workspace_id,
        "collection": row.collection,
        "mapping": row.mapping,
        "external_id": row.external_id,
        "verify": row.verify,
        "enabled": bool(row.enabled),
        "disabled_reason": None if row.enabled else row.disabled_reason,
        "description": row.description,
        "ingest_path": ingest_path(row.ingest_key),
        "owner": row.owner_id,
        "previous_secret_valid_until": iso(row.previous_until) if row.previous_secret else None,
        "version": row.version,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def _errors(body: dict[str, Any]) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    coll = body.get("collection")
    if not isinstance(coll, str) or not SLUG_RE.match(coll):
        errors.append({"pointer": "/collection", "message": "a collection id"})
    if body.get("verify", VERIFY[0]) not in VERIFY:
        errors.append({"pointer": "/verify", "message": f"one of {', '.join(VERIFY)}"})
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > MAX_DESCRIPTION):
        errors.append({"pointer": "/description", "message": f"text of at most {MAX_DESCRIPTION} characters"})
    return errors + mapping.check(body.get("mapping"), body.get("external_id"))


class Hooks:
    def __init__(self, core: Deskbase, box: SecretBox, expiry: OwnerExpiry | None = None) -> None:
        self.core = core
        self.box = box
        self.expiry = expiry or OwnerExpiry(core)

    def _row(self, conn: Connection, ws: str, hid: str) -> Any:
        row = conn.execute(select(hooks).where(hooks.c.workspace_id == ws, hooks.c.id == hid)).first()
        if row is None:
            raise NotFound(f"hook {hid!r} not found", {"hook": hid})
        return row

    def _check_collection(self, conn: Connection, ws: str, coll: str, actor: Actor) -> None:
        try:
            self.core.collections.require(conn, ws, coll)
        except NotFound as exc:
            raise ValidationFailed(
                f"no collection {coll!r} in workspace {ws!r}",
                [{"pointer": "/collection", "message": "no such collection in this workspace"}],
            ) from exc
        authorize(actor, "write:records", ws, coll)

    def put(
        self, ws: str, hid: str, body: dict[str, Any], actor: Actor, if_version: int | None = None
    ) -> tuple[dict[str, Any], str | None, bool]:
        """Create or replace a hook. Returns its public form, a new secret when one was made (a new hook that
        verifies signatures, or an update that switches verification on: it is shown only then), and whether
        the hook is new. `if_version`: replace only the version the caller read (412 otherwise)."""
        check_slug(hid, "hook")
        errors = _errors(body)
        if errors:
            raise ValidationFailed("invalid hook", errors)
        now = self.core.clock.now()
        verify = body.get("verify") or VERIFY[0]
        values = {
            "collection": body["collection"],
            "mapping": body["mapping"],
            "external_id": body.get("external_id"),
            "verify": verify,
            "enabled": bool(body.get("enabled", True)),
            "description": body.get("description"),
            "owner_id": actor.id,
            "owner_grants": list(actor.grants),
            "owner_admin": actor.is_admin,
            "updated_at": now,
        }
        secret = None
        with self.core.db.tx() as tx:
            tx.lock(f"hook:{ws}:{hid}")  # two edits of one hook take turns (If-Match sees the first)
            self.core.workspaces.require(tx.conn, ws)
            self._check_collection(tx.conn, ws, values["collection"], actor)
            old = tx.conn.execute(select(hooks).where(hooks.c.workspace_id == ws, hooks.c.id == hid)).first()
            check_version(f"hook {hid}", old, if_version)
            if values["enabled"]:
                values["disabled_reason"] = None
            elif old is None or old.enabled:
                values["disabled_reason"] = "disabled by " + actor.id
            if verify == "none":
                values.update(secret=None, previous_secret=None, previous_until=None)
            elif old is None or old.secret is None:
                secret = signing.new_secret()
                values.update(secret=self.box.seal(secret), previous_secret=None, previous_until=None)
            if old is None:
                tx.conn.execute(
                    insert(hooks).values(
                        workspace_id=ws,
                        id=hid,
                        ingest_key=KEY_PREFIX + secrets.token_urlsafe(18),
                        version=1,
                        created_at=now,
                        **values,
                    )
                )
            else:
                tx.conn.execute(
                    update(hooks)
                    .where(hooks.c.workspace_id == ws, hooks.c.id == hid)
                    .values(version=old.version + 1, **values)
                )
            row = self._row(tx.conn, ws, hid)
        audit_log.info(
            "hook %s/%s %s by %s (verify %s)", ws, hid, "updated" if old else "created", actor.id, verify
        )
        return public(row), secret, old is None

    def get(self, ws: str, hid: str) -> dict[str, Any]:
        with self.core.db.read() as conn:
            self.core.workspaces.require(conn, ws)
            return public(self._row(conn, ws, hid))

    def list(self, ws: str) -> builtins.list[dict[str, Any]]:
        with self.core.db.read() as conn:
            self.core.workspaces.require(conn, ws)
            rows = conn.execute(select(hooks).where(hooks.c.workspace_id == ws).order_by(hooks.c.id))
            return [public(r) for r in rows]

    def delete(self, ws: str, hid: str, actor: Actor) -> None:
        """Remove the hook and its ingest log; the records it wrote stay."""
        with self.core.db.tx() as tx:
            tx.lock(f"hook:{ws}:{hid}")
            self.core.workspaces.require(tx.conn, ws)
            self._row(tx.conn, ws, hid)
            tx.conn.execute(
                delete(hook_ingests).where(hook_ingests.c.workspace_id == ws, hook_ingests.c.hook_id == hid)
            )
            tx.conn.execute(delete(hooks).where(hooks.c.workspace_id == ws, hooks.c.id == hid))
        audit_log.info("hook %s/%s deleted by %s", ws, hid, actor.id)

    def rotate(self, ws: str, hid: str, actor: Actor) -> tuple[dict[str, Any], str]:
        """A new secret; the current one keeps verifying (beside it) for 24 hours."""
        secret = signing.new_secret()
        now = self.core.clock.now()
        with self.core.db.tx() as tx:
            tx.lock(f"hook:{ws}:{hid}")
            self.core.workspaces.require(tx.conn, ws)
            old = self._row(tx.conn, ws, hid)
            if old.secret is None:
                raise Conflict(
                    f"hook {hid!r} verifies nothing (verify: none), so it has no secret to rotate",
                    {"hook": hid, "verify": old.verify},
                )
            tx.conn.execute(
                update(hooks)
                .where(hooks.c.workspace_id == ws, hooks.c.id == hid)
                .values(
                    secret=self.box.seal(secret),
                    previous_secret=old.secret,
                    previous_until=now + ROTATION_OVERLAP,
                    version=old.version + 1,
                    updated_at=now,
                )
            )
            row = self._row(tx.conn, ws, hid)
        audit_log.info("hook %s/%s secret rotated by %s", ws, hid, actor.id)
        return public(row), secret

    def by_key(self, key: str) -> Any:
        """The enabled hook an ingest URL names; an unknown and a disabled one are the same 404. A hook whose
        owner's token has expired is disabled now (expiry has no event of its own) and answers 404 too."""
        with self.core.db.read() as conn:
            row = conn.execute(select(hooks).where(hooks.c.ingest_key == key)).first()
            if row is None or not row.enabled:
                raise NotFound("no such hook", {})
            expired = self.expiry.expired(conn, row.owner_id, self.core.clock.now())
        if expired is not None:
            self.expiry.disable_hook(row.workspace_id, row.id, row.owner_id, expired)
            raise NotFound("no such hook", {})
        return row

    def verifying_secrets(self, row: Any, now: datetime) -> builtins.list[str]:
        return signing.live_secrets(self.box, row, now)

    def set_enabled(
        self, ws: str, hid: str, enabled: bool, actor: Actor, if_version: int | None = None
    ) -> dict[str, Any]:
        """Enable or disable: a replace with every other setting as stored, at `if_version` when given (a
        disabled hook's URL answers 404, as an unknown one does)."""
        current = self.get(ws, hid)
        body = {k: current[k] for k in SETTINGS} | {"enabled": enabled}
        return self.put(ws, hid, body, actor, current["version"] if if_version is None else if_version)[0]

    def disable_revoked(self, tx: Tx, gone: Revocation) -> None:
        """A hook writes with its owner's recorded grants: when they end (the token revoked, its user
        suspended, demoted or removed) the hook stops (its ingest URL answers 404 like any disabled hook)
        until a live token re-enables it and becomes its owner."""
        now = self.core.clock.now()
        where: list[ColumnElement[bool]] = [
            hooks.c.owner_id.in_(sorted(gone.owners)),
            hooks.c.enabled.is_(True),
        ]
        if gone.workspace_id is not None:
            where.append(hooks.c.workspace_id == gone.workspace_id)
        tx.conn.execute(
            update(hooks)
            .where(*where)
            .values(
                enabled=False,
                disabled_reason=gone.reason,
                version=hooks.c.version + 1,
                updated_at=now,
            )
        )

    def forget_deleted_workspaces(self, tx: Tx, entries: builtins.list[Change]) -> None:
        """In the transaction that deletes a workspace, delete its hooks too: a workspace made later under the
        same id must not inherit hooks (and their recorded grants) from the old one."""
        for ws in {c.workspace_id for c in entries if c.entity == "workspace" and c.op == "delete"}:
            tx.conn.execute(delete(hook_ingests).where(hook_ingests.c.workspace_id == ws))
            tx.conn.execute(delete(hooks).where(hooks.c.workspace_id == ws))

"""The mailbox store: create/replace, read, list, delete. A mailbox is an address customers write to, how its
mail comes in (IMAP, the SMTP listener, or the raw-MIME API route) and the SMTP server replies leave by.

Passwords are write-only: sealed at rest with the server key (core/secrets.py), never in an answer or a log.
A replace that leaves a password out keeps the stored one (so editing a mailbox does not need the password
again); an empty string clears it. Mail a mailbox writes is attributed to `mailbox:<id>`, an actor whose
grants reach this workspace's records and files only.
"""

from __future__ import annotations

import builtins
import logging
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from deskbase.core.app import Deskbase
from deskbase.core.changelog import Change
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.errors import NotFound, ValidationFailed
from deskbase.core.ids import check_slug
from deskbase.core.secrets import SecretBox
from deskbase.events import ssrf
from deskbase.mail import guard, inbound_state
from deskbase.mail.tables import mail_acks, mail_attempts, mail_messages, mail_outbox, mailboxes

KINDS = ("imap", "smtp", "api")
TLS = ("ssl", "starttls", "none")
#: What a server's settings default to when left out (the API documents these defaults): port and TLS mode.
IMAP_DEFAULTS = (993, "ssl")
SMTP_DEFAULTS = (587, "starttls")
#: A plain address: the plus part is ours (`support+1042@…` threads to ticket 1042), so a mailbox has none.
ADDRESS_RE = re.compile(
    r"^[a-z0-9!#$%&'*/=?^_`{|}~.-]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9-]{1,63})+$"
)
WRITES = (
    "read:records",
    "write:records",
    "read:relationships",
    "write:relationships",
    "read:files",
    "write:files",
)
audit_log = logging.getLogger("deskbase.audit")
log = logging.getLogger(__name__)


def actor_of(workspace_id: str, mailbox_id: str) -> Actor:
    """Who mail through a mailbox writes as: `mailbox:<id>` in the change log, scoped to its workspace."""
    grant = {"scope": {"workspaces": [workspace_id]}, "permissions": list(WRITES)}
    return Actor(id=f"mailbox:{mailbox_id}", name=f"mailbox {mailbox_id}", grants=(grant,), source="mail")


def public(row: Any, health: dict[str, Any] | None = None) -> dict[str, Any]:
    """The wire form: settings with `password_set` in place of any password, and for an IMAP mailbox the
    `health` of its fetching (null for the other kinds)."""
    inbound = {**row.inbound}
    if inbound.get("kind") == "imap":
        inbound["password_set"] = row.inbound_password is not None
    outbound = None
    if row.outbound is not None:
        outbound = {**row.outbound, "password_set": row.outbound_password is not None}
    return {
        "id": row.id,
        "workspace_id": row.workspace_id,
        "address": row.address,
        "name": row.name,
        "inbound": inbound,
        "outbound": outbound,
        "auto_acknowledge": bool(row.auto_acknowledge),
        "health": (health or inbound_state.empty_health()) if row.inbound.get("kind") == "imap" else None,
        "version": row.version,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def _port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _text(value: Any, limit: int = 255) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and "\x00" not in value


def _server_errors(
    cfg: Any, pointer: str, defaults: tuple[int, str], allowed: tuple[ssrf.Network, ...]
) -> list[dict[str, str]]:
    default_port, default_tls = defaults
    errors = []
    if not _text(cfg.get("host")):
        errors.append({"pointer": f"{pointer}/host", "message": "a host name"})
    elif (reason := guard.refusal_at_save(cfg["host"].strip(), allowed)) is not None:
        errors.append(
            {
                "pointer": f"{pointer}/host",
                "message": f"mail servers may not be at {reason} (see webhook_allow_networks)",
            }
        )
    if not _port(cfg.get("port", default_port)):
        errors.append({"pointer": f"{pointer}/port", "message": "a port, 1-65535"})
    if cfg.get("tls", default_tls) not in TLS:
        errors.append({"pointer": f"{pointer}/tls", "message": f"one of {', '.join(TLS)}"})
    for key in ("username", "password"):
        if cfg.get(key) is not None and not isinstance(cfg.get(key), str):
            errors.append({"pointer": f"{pointer}/{key}", "message": "a string"})
    return errors


def _errors(body: dict[str, Any], allowed: tuple[ssrf.Network, ...]) -> list[dict[str, str]]:
    errors = []
    address = body.get("address")
    if not isinstance(address, str) or not ADDRESS_RE.match(address.strip().lower()) or "+" in address:
        errors.append({"pointer": "/address", "message": "an email address without a +tag"})
    if body.get("name") is not None and not _text(body.get("name"), 200):
        errors.append({"pointer": "/name", "message": "up to 200 characters"})
    inbound = body.get("inbound") or {"kind": "api"}
    if not isinstance(inbound, dict) or inbound.get("kind") not in KINDS:
        errors.append({"pointer": "/inbound/kind", "message": f"one of {', '.join(KINDS)}"})
    elif inbound["kind"] == "imap":
        errors += _server_errors(inbound, "/inbound", IMAP_DEFAULTS, allowed)
        if not _text(inbound.get("username")):
            errors.append({"pointer": "/inbound/username", "message": "the IMAP user name"})
        if inbound.get("folder") is not None and not _text(inbound.get("folder")):
            errors.append({"pointer": "/inbound/folder", "message": "a folder name"})
    outbound = body.get("outbound")
    if outbound is not None:
        errors += (
            _server_errors(outbound, "/outbound", SMTP_DEFAULTS, allowed)
            if isinstance(outbound, dict)
            else [{"pointer": "/outbound", "message": "an object"}]
        )
    return errors


def _settings(cfg: dict[str, Any], keys: tuple[str, ...], defaults: tuple[int, str]) -> dict[str, Any]:
    out = {k: cfg[k] for k in keys if cfg.get(k) is not None}
    if "host" in keys:
        out["port"] = cfg.get("port") or defaults[0]
        out["tls"] = cfg.get("tls") or defaults[1]
    return out


_BY_ID = select(mailboxes).where(
    mailboxes.c.workspace_id == bindparam("ws"), mailboxes.c.id == bindparam("id")
)


class Mailboxes:
    def __init__(self, core: Deskbase, box: SecretBox) -> None:
        self.core = core
        self.box = box
        #: Private networks mailboxes' servers may be on all the same (the webhooks' allow-list).
        self.allowed = ssrf.parse_networks(core.settings.webhook_allow_networks)
        #: Called with (workspace, mailbox) after a mailbox is created, replaced or deleted (the IMAP
        #: supervisor of this process follows changes at once rather than at its next look).
        self.listeners: builtins.list[Callable[[str, str], None]] = []

    def _changed(self, ws: str, mid: str) -> None:
        for fn in self.listeners:
            try:
                fn(ws, mid)
            except Exception:
                log.exception("mailbox change listener failed")

    def _row(self, conn: Connection, ws: str, mid: str) -> Any:
        row = conn.execute(_BY_ID, {"ws": ws, "id": mid}).first()
        if row is None:
            raise NotFound(f"mailbox {mid!r} not found", {"mailbox": mid})
        return row

    def _sealed(self, given: Any, old: str | None) -> str | None:
        """Left out: keep the stored password; "": clear it; else seal the new one."""
        if given is None:
            return old
        return self.box.seal(given) if given else None

    def put(self, ws: str, mid: str, body: dict[str, Any], actor: Actor) -> tuple[dict[str, Any], bool]:
        """Create or replace a mailbox; returns its public form and whether it is new."""
        check_slug(mid, "mailbox")
        errors = _errors(body, self.allowed)
        if errors:
            raise ValidationFailed("invalid mailbox", errors)
        now = self.core.clock.now()
        inbound = body.get("inbound") or {"kind": "api"}
        outbound = body.get("outbound")
        keys = ("kind", "host", "port", "username", "folder") if inbound["kind"] == "imap" else ("kind",)
        values: dict[str, Any] = {
            "address": body["address"].strip().lower(),
            "name": body.get("name"),
            "inbound": _settings(inbound, keys, IMAP_DEFAULTS)
            | ({"folder": "INBOX"} if inbound["kind"] == "imap" and not inbound.get("folder") else {}),
            "outbound": None
            if outbound is None
            else _settings(outbound, ("host", "port", "username"), SMTP_DEFAULTS),
            "auto_acknowledge": bool(body.get("auto_acknowledge", False)),
            "updated_at": now,
        }
        with self.core.db.tx() as tx:
            tx.lock(f"mailbox-settings:{ws}:{mid}")  # two edits of one mailbox take turns
            self.core.workspaces.require(tx.conn, ws)
            old = tx.conn.execute(
                select(mailboxes).where(mailboxes.c.workspace_id == ws, mailboxes.c.id == mid)
            ).first()
            values["inbound_password"] = (
                self._sealed(inbound.get("password"), old.inbound_password if old else None)
                if inbound["kind"] == "imap"
                else None
            )
            values["outbound_password"] = (
                None
                if outbound is None
                else self._sealed(outbound.get("password"), old.outbound_password if old else None)
            )
            if old is None:
                tx.conn.execute(
                    insert(mailboxes).values(workspace_id=ws, id=mid, version=1, created_at=now, **values)
                )
            else:
                tx.conn.execute(
                    update(mailboxes)
                    .where(mailboxes.c.workspace_id == ws, mailboxes.c.id == mid)
                    .values(version=old.version + 1, **values)
                )
            row = self._row(tx.conn, ws, mid)
            health = inbound_state.health(tx.conn, ws, mid)
        audit_log.info("mailbox %s/%s %s by %s", ws, mid, "updated" if old else "created", actor.id)
        self._changed(ws, mid)
        return public(row, health), old is None

    def get(self, ws: str, mid: str) -> dict[str, Any]:
        with self.core.db.read() as conn:
            self.core.workspaces.require(conn, ws)
            return public(self._row(conn, ws, mid), inbound_state.health(conn, ws, mid))

    def row(self, ws: str, mid: str) -> Any:
        """The stored row (sealed passwords included), for the adapters that connect with it."""
        with self.core.db.read() as conn:
            return self.row_in(conn, ws, mid)

    def row_in(self, conn: Connection, ws: str, mid: str) -> Any:
        """`row` in the caller's read. A mailbox goes in its workspace's deletion (`forget_deleted_workspaces`),
        so a found one vouches for its workspace; a missing one is the workspace's 404 if that is missing."""
        row = conn.execute(_BY_ID, {"ws": ws, "id": mid}).first()
        if row is None:
            self.core.workspaces.require(conn, ws)
            return self._row(conn, ws, mid)
        return row

    def list(self, ws: str) -> builtins.list[dict[str, Any]]:
        with self.core.db.read() as conn:
            self.core.workspaces.require(conn, ws)
            rows = conn.execute(
                select(mailboxes).where(mailboxes.c.workspace_id == ws).order_by(mailboxes.c.id)
            ).all()
            health = inbound_state.health_all(conn, ws) if rows else {}
            return [public(r, health.get(r.id)) for r in rows]

    def delete(self, ws: str, mid: str, actor: Actor) -> None:
        """Remove the mailbox; tickets and messages it brought in stay (their Message-IDs stay indexed, so a
        reply still threads), and replies still queued for it fail with that reason when their turn comes."""
        with self.core.db.tx() as tx:
            tx.lock(f"mailbox-settings:{ws}:{mid}")
            self.core.workspaces.require(tx.conn, ws)
            self._row(tx.conn, ws, mid)
            inbound_state.forget(tx.conn, ws, mid)
            tx.conn.execute(delete(mailboxes).where(mailboxes.c.workspace_id == ws, mailboxes.c.id == mid))
        audit_log.info("mailbox %s/%s deleted by %s", ws, mid, actor.id)
        self._changed(ws, mid)

    def password(self, sealed: str | None) -> str | None:
        return None if sealed is None else self.box.open(sealed)

    def forget_deleted_workspaces(self, tx: Tx, entries: builtins.list[Change]) -> None:
        """In the transaction that deletes a workspace, delete its mailboxes, queue (with its attempts),
        acknowledgement marks and message index too."""
        for ws in {c.workspace_id for c in entries if c.entity == "workspace" and c.op == "delete"}:
            queued = select(mail_outbox.c.id).where(mail_outbox.c.workspace_id == ws)
            tx.conn.execute(delete(mail_attempts).where(mail_attempts.c.outbox_id.in_(queued)))
            tx.conn.execute(delete(mail_outbox).where(mail_outbox.c.workspace_id == ws))
            tx.conn.execute(delete(mail_acks).where(mail_acks.c.workspace_id == ws))
            tx.conn.execute(delete(mail_messages).where(mail_messages.c.workspace_id == ws))
            inbound_state.forget(tx.conn, ws, None)
            tx.conn.execute(delete(mailboxes).where(mailboxes.c.workspace_id == ws))

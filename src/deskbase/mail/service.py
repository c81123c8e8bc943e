"""The mail service: what adapters call (mailbox management, inbound messages, the outbox, a server check)
and `install`, which wires the stores, the inbound pipeline and the outbound sender onto a core."""

from __future__ import annotations

from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize
from deskbase.core.context import Actor
from deskbase.core.errors import Conflict
from deskbase.core.secrets import SecretBox
from deskbase.events.retry import parse_schedule
from deskbase.mail import ack, delivery, outbox, smtp
from deskbase.mail.ingest import Ingest
from deskbase.mail.mailboxes import Mailboxes
from deskbase.mail.sender import Sender, server_of

#: Managing mailboxes needs `admin` over the whole workspace: a mailbox writes tickets, customers and files
#: into every part of it, and holds credentials.
MANAGE = "admin"
NOT_CHECKED = {"ok": None, "message": "not checked"}


def authorize_manage(actor: Actor, ws: str) -> None:
    authorize(actor, MANAGE, ws, whole_workspace=True)


class Mail:
    def __init__(self, core: Deskbase) -> None:
        s = core.settings
        self.core = core
        self.mailboxes = Mailboxes(core, SecretBox.for_settings(s.secret_key, s.data_path))
        core.hooks.on_change_in_tx(self.mailboxes.forget_deleted_workspaces)
        self.ingest = Ingest(core, self.mailboxes, s.max_mail_bytes, on_created=ack.acknowledge)
        self.sender = Sender(
            core,
            self.mailboxes,
            parse_schedule(s.mail_retry_schedule),
            s.mail_timeout_seconds,
            s.mail_concurrency,
        )

    def start(self) -> None:
        self.sender.start()

    def stop(self) -> None:
        self.sender.stop()

    # ---- the outbox -----------------------------------------------------------------------------------
    def outbox(self, ws: str, mid: str, cursor: str | None, limit: int, status: str | None) -> dict[str, Any]:
        """A mailbox's outbound messages, newest first, with their attempts."""
        self.mailboxes.get(ws, mid)
        with self.core.db.read() as conn:
            return outbox.page(conn, ws, mid, cursor, limit, status)

    def retry(self, ws: str, mid: str, oid: str) -> dict[str, Any]:
        """Queue a failed message again, with a fresh retry schedule."""
        self.mailboxes.get(ws, mid)
        now = self.core.clock.now()
        with self.core.db.tx() as tx:
            row = outbox.one(tx.conn, ws, mid, oid)
            if row.status != "failed":
                raise Conflict(
                    f"outbox message {oid!r} is {row.status}; only a failed one is sent again",
                    {"status": row.status},
                )
            outbox.requeue(tx.conn, row, now)
            if row.kind == "reply":
                with delivery.bookkeeping(self.core, tx, ws) as uow:
                    delivery.set_state(uow, row.response_id, "queued", None, 0, now)
        self.sender.wake()
        with self.core.db.read() as conn:
            return outbox.one_public(conn, ws, mid, oid)

    # ---- checking a mailbox's servers ---------------------------------------------------------------------
    def test(self, ws: str, mid: str) -> dict[str, Any]:
        """Connect to the mailbox's outbound server as a send would (greeting, TLS, AUTH; no message).
        `inbound` is filled by the inbound adapters' own check."""
        box = self.mailboxes.row(ws, mid)
        server = server_of(
            box, self.mailboxes.password(box.outbound_password), self.core.settings.mail_timeout_seconds
        )
        if server is None:
            out = {"ok": False, "message": "no outbound SMTP server is set for this mailbox"}
        else:
            ok, message = smtp.check(server)
            out = {"ok": ok, "message": message}
        return {"outbound": out, "inbound": dict(NOT_CHECKED)}


def install(core: Deskbase) -> Mail:
    mail = Mail(core)
    core.extensions[Mail] = mail
    return mail

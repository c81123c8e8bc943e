"""The mail service: what adapters call (mailbox management, inbound messages, the inbound check and skip log,
the outbox, a server check) and `install`, which wires the stores, the inbound pipeline, the IMAP fetchers, the
SMTP listener and the outbound sender onto a core."""

from __future__ import annotations

from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize
from deskbase.core.context import Actor
from deskbase.core.errors import Conflict
from deskbase.core.secrets import SecretBox
from deskbase.events.retry import parse_schedule
from deskbase.mail import ack, delivery, imap, inbound_state, outbox, smtp
from deskbase.mail.fetcher import Fetchers
from deskbase.mail.ingest import Ingest
from deskbase.mail.listener import Listener
from deskbase.mail.mailboxes import Mailboxes
from deskbase.mail.sender import Sender, server_of

#: Managing mailboxes needs `admin` over the whole workspace: a mailbox writes tickets, customers and files
#: into every part of it, and holds credentials.
MANAGE = "admin"


def authorize_manage(actor: Actor, ws: str) -> None:
    authorize(actor, MANAGE, ws, whole_workspace=True)


class Mail:
    def __init__(self, core: Deskbase) -> None:
        s = core.settings
        self.core = core
        self.mailboxes = Mailboxes(core, SecretBox.for_settings(s.secret_key, s.data_path))
        core.hooks.on_change_in_tx(self.mailboxes.forget_deleted_workspaces)
        self.ingest = Ingest(core, self.mailboxes, s.max_mail_bytes, on_created=ack.acknowledge)
        self.fetchers = Fetchers(core, self.mailboxes, self.ingest, s.imap_poll_seconds)
        self.mailboxes.listeners.append(lambda _ws, _mid: self.fetchers.wake())
        self.listener = (
            Listener(core, self.ingest, s.smtp_host, s.smtp_port, s.smtp_lmtp) if s.smtp_port else None
        )

        self.sender = Sender(
            core,
            self.mailboxes,
            parse_schedule(s.mail_retry_schedule),
            s.mail_timeout_seconds,
            s.mail_concurrency,
            s.mail_retention_days,
        )

    def check_inbound(self, ws: str, mid: str) -> tuple[bool, str]:
        """Can mail come in to this mailbox now? For IMAP a live login and folder check; for the listener
        whether it runs here; the API route always works."""
        row = self.mailboxes.row(ws, mid)
        kind = row.inbound.get("kind")
        if kind == "imap":
            return imap.check_inbound(imap.Server.of(row, self.mailboxes))
        if kind == "smtp":
            if self.listener is None:
                return False, "the SMTP listener is off on this server (set smtp_port)"
            return True, f"the SMTP listener takes mail for {row.address} on port {self.listener.port}"
        return True, "messages come in through POST …/mailboxes/{id}/inbound"

    def skipped(self, ws: str, mid: str, cursor: str | None, limit: int) -> dict[str, Any]:
        """A page of the mailbox's skip log (messages refused for good), newest first."""
        with self.core.db.read() as conn:
            self.core.workspaces.require(conn, ws)
            self.mailboxes._row(conn, ws, mid)
            return inbound_state.skipped_page(conn, ws, mid, cursor, limit)

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
        """Connect to the mailbox's outbound server as a send would (greeting, TLS, AUTH; no message), and
        check that mail can come in (`check_inbound`)."""
        box = self.mailboxes.row(ws, mid)
        server = server_of(
            box,
            self.mailboxes.password(box.outbound_password),
            self.core.settings.mail_timeout_seconds,
            self.mailboxes.allowed,
        )
        out: dict[str, Any]
        if server is None:
            out = {"ok": None, "message": "no outbound SMTP server is set for this mailbox"}
        else:
            ok, message = smtp.check(server)
            out = {"ok": ok, "message": message}
        ok_in, message_in = self.check_inbound(ws, mid)
        return {"outbound": out, "inbound": {"ok": ok_in, "message": message_in}}


def install(core: Deskbase) -> Mail:
    mail = Mail(core)
    core.extensions[Mail] = mail
    return mail

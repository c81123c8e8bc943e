"""The mail service: what adapters call (mailbox management, inbound messages, the inbound check and skip log)
and `install`, which wires the stores, the inbound pipeline, the IMAP fetchers and the SMTP listener onto a
core."""

from __future__ import annotations

from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize
from deskbase.core.context import Actor
from deskbase.core.secrets import SecretBox
from deskbase.mail import imap, inbound_state
from deskbase.mail.fetcher import Fetchers
from deskbase.mail.ingest import Ingest
from deskbase.mail.listener import Listener
from deskbase.mail.mailboxes import Mailboxes

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
        self.ingest = Ingest(core, self.mailboxes, s.max_mail_bytes)
        self.fetchers = Fetchers(core, self.mailboxes, self.ingest, s.imap_poll_seconds)
        self.mailboxes.listeners.append(lambda _ws, _mid: self.fetchers.wake())
        self.listener = (
            Listener(core, self.ingest, s.smtp_host, s.smtp_port, s.smtp_lmtp) if s.smtp_port else None
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


def install(core: Deskbase) -> Mail:
    mail = Mail(core)
    core.extensions[Mail] = mail
    return mail

"""The mail service: what adapters call (mailbox management, inbound messages) and `install`, which wires the
stores, the inbound pipeline and the outbound sender onto a core."""

from __future__ import annotations

from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize
from deskbase.core.context import Actor
from deskbase.core.secrets import SecretBox
from deskbase.mail.ingest import Ingest
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


def install(core: Deskbase) -> Mail:
    mail = Mail(core)
    core.extensions[Mail] = mail
    return mail

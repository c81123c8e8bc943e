"""Typed page contexts of Settings → Mailboxes (see pages.py for the rule every context follows)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MailboxForm:
    """A mailbox's settings as the add and edit forms show them: what was typed (or is stored), and why a
    save was refused. Passwords are never in it: a stored one is only said to be there."""

    id: str = ""
    address: str = ""
    name: str = ""
    inbound_kind: str = "api"  #: imap | smtp | api
    imap_host: str = ""
    imap_port: str = ""  #: as typed ("" takes the default)
    imap_tls: str = "ssl"
    imap_username: str = ""
    imap_folder: str = ""
    imap_password_set: bool = False  #: a password is stored (blank keeps it)
    smtp_host: str = ""  #: "" sends nothing from this mailbox
    smtp_port: str = ""
    smtp_tls: str = "starttls"
    smtp_username: str = ""
    smtp_password_set: bool = False
    auto_acknowledge: bool = False
    errors: dict[str, str] = field(default_factory=dict)  #: field -> message
    #: password fields filled in a refused form: never sent back to the browser, so they are asked again
    retype: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ConnectionCheck:
    """One side of a connection test, as the mail service answered it."""

    side: str  #: "Sending (SMTP)" | "Receiving"
    ok: bool | None  #: None: not checked (nothing to check, or not built on this server)
    message: str


@dataclass(frozen=True)
class MailboxRow:
    id: str
    address: str
    name: str
    inbound: str  #: "IMAP imap.acme.example:993 (SSL), folder INBOX", "SMTP listener", "API route only"
    outbound: str | None  #: "smtp.acme.example:587 (STARTTLS)"; None: replies are not sent from it
    auto_acknowledge: bool
    queued: int  #: messages (replies, acknowledgements) waiting in its outbound queue
    failed: int  #: messages that failed for good in the last FAILED_DAYS days
    edit_href: str
    actions: str  #: the prefix of its POST forms (…/mailboxes/<id>)
    updated_at: str
    checks: list[ConnectionCheck] = field(default_factory=list)  #: the connection test just run


@dataclass
class MailboxesPage:
    """Settings → Mailboxes of one workspace: its mailboxes and the form that adds one."""

    workspace: str
    rows: list[MailboxRow]
    form: MailboxForm
    create_href: str
    failed_days: int
    kinds: list[tuple[str, str, str]]  #: (value, label, help) of the inbound choices
    tls: list[tuple[str, str]]  #: (value, label) of the encryption choices
    notice: str | None = None  #: what the last action did
    error: str | None = None  #: why the last action did nothing


@dataclass
class MailboxPage:
    """One mailbox's edit form, with its summary and actions."""

    workspace: str
    row: MailboxRow
    form: MailboxForm
    back: str  #: the mailboxes page
    failed_days: int
    kinds: list[tuple[str, str, str]]
    tls: list[tuple[str, str]]
    error: str | None = None

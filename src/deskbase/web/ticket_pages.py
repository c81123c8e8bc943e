"""Typed contexts of the ticket page and its panels (as web/pages.py, checked by test_templates)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deskbase.core.agent_state import Present
from deskbase.web.mail_pages import EmailNotice, MailView
from deskbase.web.pages import AgentOption, CustomerRef, TeamOption
from deskbase.web.sla import Clock


# ---- a ticket ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    id: str
    kind: str  #: customer | agent | note
    author: str
    body: str
    at: str
    attachments: list[Attachment] = field(default_factory=list)  #: those this viewer may read
    unreadable: int = 0  #: attachments this viewer may not read (counted, never named)
    mail: MailView | None = None  #: the email it came in or went out as
    #: the ticket's description, shown as the customer's first message (no response record holds it)
    opening: bool = False


@dataclass(frozen=True)
class Attachment:
    """A file a message carries, served by the console's content route under core.files' read rule."""

    id: str
    name: str
    size: str  #: "2.4 MB"
    content_type: str
    href: str  #: the bytes (inline for the safe raster image types, else a download)
    image: bool  #: shown as a lazy-loaded thumbnail


@dataclass(frozen=True)
class OtherTicket:
    id: str
    href: str
    subject: str
    status: str
    priority: str
    updated_at: str
    number: int | None = None
    #: the ticket's customer, named in pickers so tickets with one subject can be told apart (None: unknown
    #: or not readable)
    customer: str | None = None


@dataclass
class CustomerPanel:
    customer: CustomerRef
    href: str  #: the customer's page
    other_tickets: list[OtherTicket]
    more: bool  #: more tickets than shown
    total: int = 0  #: all the customer's live tickets (this one included)


@dataclass(frozen=True)
class RelatedTicket:
    rel_id: str
    ticket: OtherTicket
    direction: str  #: outgoing | incoming


@dataclass
class SlaPanel:
    clocks: list[Clock]  #: running clocks first, then completed ones
    policy: str | None  #: "Default (v3)"
    calendar: str | None  #: "business-hours · Europe/Madrid"
    refresh_href: str
    timezone: str | None = None  #: the calendar's zone: due times are also shown in it where it differs


@dataclass(frozen=True)
class TimelineItem:
    at: str
    kind: str  #: created | changed | message | sla | deleted
    text: str
    actor: str | None


@dataclass
class Composer:
    body: str = ""
    type: str = "reply"  #: reply | internal_note
    status: str = ""  #: set the ticket's status with the message ("" keeps it)
    error: str | None = None
    sent: bool = False  #: the last message went out (the form was cleared)
    #: messages by others that arrived while this one was being written: shown, and sending needs a confirm
    collision: list[Message] = field(default_factory=list)
    draft_at: str | None = None  #: the body is the agent's saved draft, from then
    macro: str | None = None  #: the macro just filled in (its name)
    priority: str = ""  #: a macro's priority, set when the message is sent
    add_tags: list[str] = field(default_factory=list)  #: a macro's tags, added when the message is sent
    #: files uploaded with a message that was not sent (an error): kept, and sent with it next time
    attachments: list[Attachment] = field(default_factory=list)
    held: int = 0  #: the message is held this many seconds before it is sent (undo-send)


@dataclass(frozen=True)
class MacroOption:
    id: str
    name: str
    shortcut: str | None  #: typed as /shortcut + Tab at the start of the composer


@dataclass
class PresencePanel:
    """Who else has the ticket open (refreshed by the page's heartbeat), and whether the draft was saved."""

    others: list[Present]
    draft_saved: str | None = None  #: when the heartbeat carried the composer's text: its save time


@dataclass
class TicketPage:
    ticket: dict[str, Any]  #: the record as the core returns it
    values: dict[str, Any]  #: the editable fields as shown: the record's, or the rejected input on error
    errors: dict[str, str]  #: field -> message, inline beside the field
    form_error: str | None
    error_panel: str  #: the form the errors belong to: head (subject, description) or props
    saved: str | None  #: "Saved status" after a successful edit
    options: dict[str, list[str]]  #: enum options from the collection schema
    conversation: list[Message]
    composer: Composer
    customer: CustomerPanel | None
    related: list[RelatedTicket]
    related_error: str | None
    related_query: str
    related_matches: list[OtherTicket]  #: search results for linking
    sla: SlaPanel | None  #: None without the SLA service
    urgent: Clock | None  #: the most urgent running clock, always shown in the header
    timeline: list[TimelineItem]
    can_edit: bool
    can_reply: bool
    can_link: bool
    agents: list[str]  #: assignee suggestions
    href: str
    panels: tuple[str, ...] = ()  #: an htmx update re-sends only these panels (out of band); () = full page
    macros: list[MacroOption] = field(default_factory=list)  #: the workspace's macros, for the composer
    can_attach: bool = False  #: the composer uploads files (`write:files`)
    notes_only: bool = (
        False  #: the composer writes internal notes only (a light agent: support/reply_rules.py)
    )
    max_file_size: str = ""  #: the server's upload limit per file, as text ("25 MB")
    max_files: int = 0  #: how many files one message may carry
    seen: str = ""  #: the newest response the page shows ("" for none): the composer's collision check
    email: EmailNotice | None = None  #: on an email ticket: who a reply is emailed to
    #: the workspace's people an internal note may @mention: [{"id", "name", "email"}]
    mentionable: list[dict[str, str]] = field(default_factory=list)
    #: the assignee picker's agents (online first), or None where the workspace has no members yet and an
    #: assignee is free text
    picker: list[AgentOption] | None = None
    teams: list[TeamOption] = field(default_factory=list)  #: the team picker's choices (none: no picker)


@dataclass
class RelatedMatches:
    """Search results of the "link a related ticket" box."""

    href: str  #: the ticket being linked from
    query: str
    related_matches: list[OtherTicket]
    can_link: bool


@dataclass
class SlaRefresh:
    """The SLA panel and the header's urgent chip, re-sent every minute while a ticket is open."""

    sla: SlaPanel | None
    urgent: Clock | None
    panels: tuple[str, ...] = ("sla", "urgent")  #: both are swapped in place (out of band)

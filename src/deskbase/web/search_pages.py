"""Typed contexts of the search page and the customer page (as web/pages.py, checked by test_templates)."""

from __future__ import annotations

from dataclasses import dataclass, field

from deskbase.web.queue_pages import QueueRow


@dataclass(frozen=True)
class SearchHit:
    href: str
    title: str
    number: int | None  #: the ticket number (`#1042`), None for unnumbered collections
    detail: str  #: the line under the title: status and customer, an email and company, or an id
    status: str
    snippet: str  #: the matching message text, for tickets found by a message
    matched: str  #: which fields matched, for the reader ("subject", "message", "number"…)


@dataclass(frozen=True)
class SearchGroup:
    collection: str
    name: str
    hits: list[SearchHit]


@dataclass
class SearchPage:
    q: str
    groups: list[SearchGroup] = field(default_factory=list)
    total: int = 0


@dataclass(frozen=True)
class Peer:
    """Another customer of the same company."""

    name: str
    email: str
    href: str


@dataclass
class CustomerPage:
    id: str
    href: str  #: this page (the profile form posts here)
    record_href: str  #: the raw record in the collection browser
    name: str
    email: str
    company: str
    plan: str
    plans: list[str]  #: the schema's plan values, for the form
    version: int  #: the record version the form was read at (sent back as If-Match)
    can_edit: bool
    rows: list[QueueRow]  #: the customer's tickets, newest first, with SLA chips
    ticket_count: int
    open_count: int  #: tickets not resolved or closed
    capped: bool  #: more tickets than the page lists
    messages: int | None  #: messages on their tickets (None: the viewer may not read them)
    first_contact: str | None
    last_contact: str | None
    peers: list[Peer]
    errors: dict[str, str] = field(default_factory=dict)
    saved: bool = False

"""Typed page contexts: each template renders exactly one of these (as `page`) plus the layout's `shell`.

Fields are documented where they are declared; tests/web/test_templates.py checks that every `page.<name>`
and `shell.<name>` a template reads is a declared field, so templates and views cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deskbase.core.agent_state import Present
from deskbase.core.context import Actor
from deskbase.web.mail_pages import EmailNotice, MailView
from deskbase.web.sla import Clock


# ---- the layout ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NavView:
    """One queue in the left navigation."""

    id: str
    label: str
    href: str
    count: int | None  #: None: not available (e.g. an SLA view without the SLA service)
    active: bool


@dataclass(frozen=True)
class WorkspaceLink:
    id: str
    name: str
    href: str


@dataclass
class Shell:
    """What base.html needs on every page."""

    title: str
    csrf: str  #: the CSRF token every POST form repeats in a hidden field
    now: datetime  #: the server's clock, for relative times
    actor: Actor | None = None  #: None on the sign-in and error pages before sign-in
    workspace: str | None = None
    workspaces: list[WorkspaceLink] = field(default_factory=list)
    nav: list[NavView] = field(default_factory=list)  #: queue views with counts; empty hides the side nav
    section: str = ""  #: queue | ticket | new | dashboard | collections | settings | integrations
    shortcuts: bool = True  #: single-key shortcuts on (a per-user setting)
    timezone: str = "UTC"  #: the workspace's time zone, for absolute times
    queue_href: str = "/"  #: where Esc / "g i" go back to
    #: the counts were not ready in time (the first visit after a start): the nav loads them from here
    nav_counts_href: str | None = None
    saved: list[NavView] = field(default_factory=list)  #: the user's saved queue views (no counts)
    #: Settings → Integrations of this workspace, for those who may manage it (None hides the link)
    integrations_href: str | None = None
    #: Settings → Mailboxes of this workspace, for those who may manage its mailboxes (None hides the link)
    mailboxes_href: str | None = None
    bell: Bell | None = None  #: a person's notifications in this workspace (None: no person, no workspace)
    #: Settings → Teams of this workspace, for its admins (None hides the link)
    teams_href: str | None = None
    #: Settings → People of this workspace (members, two-step sign-in), for its admins (None hides the link)
    people_href: str | None = None
    away: bool | None = None  #: a person's own away switch (None: a token's session has none)
    here: str = "/"  #: this page's path, where the away switch comes back to
    toast: Toast | None = None  #: what was just done, with a button that undoes it


@dataclass(frozen=True)
class Toast:
    """A short-lived message after a one-click action, with an Undo form that reverses it through the normal
    write path (console.js hides it after `seconds` unless it has focus; the form works without scripts)."""

    message: str
    action: str  #: where the Undo form posts
    fields: list[tuple[str, str]]  #: its hidden fields
    seconds: int
    htmx: bool = False  #: post it with htmx (the ticket page's panels) rather than as a page
    #: when the toast is done and nothing was undone, redraw the ticket page's panels from here (a held
    #: reply has been sent by then)
    refresh: str | None = None


@dataclass(frozen=True)
class Bell:
    """The header's bell: the unread count, the list page, and the live stream that keeps the count."""

    unread: int
    href: str
    stream: str


@dataclass(frozen=True)
class NotificationItem:
    id: str
    title: str  #: the kind's label ("Assigned to you")
    ticket: str  #: "#12 VPN down"
    ticket_href: str
    by: str  #: who caused it ("" for the SLA)
    excerpt: str
    at: str  #: ISO time
    read: bool


@dataclass
class NotificationsPage:
    """A person's notifications in a workspace, unread first."""

    items: list[NotificationItem]
    unread: int
    href: str  #: this page (mark read posts come back here)
    next_href: str | None
    paged: bool  #: not the first page


@dataclass
class Profile:
    """A person's own settings: who they are and the time zone times are shown in."""

    email: str
    name: str
    time_zone: str
    time_zones: list[str]
    has_password: bool
    errors: dict[str, str] = field(default_factory=dict)
    password_saved: bool = False


# ---- sign in, home, errors, settings ---------------------------------------------------------------
@dataclass
class SignInPage:
    next: str  #: where to go after signing in (a local path)
    error: str | None = None  #: the email-and-password form's message
    email: str = ""  #: the email typed, kept after a failed attempt (never the password)
    token_error: str | None = None  #: the token form's message
    sso_error: str | None = None  #: why a single sign-on did not complete


@dataclass
class ContinuePage:
    """After single sign-on: the page that goes on to the next step (see views/sso.py for why not a redirect)."""

    title: str
    next: str  #: where the browser goes on to (a local path, URL-quoted)


@dataclass
class EmptyHomePage:
    """Signed in, but no workspace with tickets is visible to this token."""

    workspaces: list[WorkspaceLink]


@dataclass
class ErrorPage:
    status: int
    message: str
    home: str = "/"


@dataclass
class SettingsPage:
    shortcuts: bool
    me: str  #: who "My open tickets" means: the assignee value this user goes by
    token_name: str
    saved: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    back: str = "/"
    #: workspaces whose Settings → Integrations this token may manage
    integrations: list[WorkspaceLink] = field(default_factory=list)
    #: workspaces whose Settings → Mailboxes this token may manage
    mailboxes: list[WorkspaceLink] = field(default_factory=list)
    #: a signed-in person's profile (None for a token's session, which names "me" here instead)
    profile: Profile | None = None
    #: a person's notification choices: [{"kind", "label", "in_app", "email"}] (empty for a token's session)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    #: a person's two-step sign-in (`SecondFactor.status`), None for a token's session
    two_step: dict[str, Any] | None = None
    #: the message of the two-step forms (a wrong password or code)
    two_step_error: str | None = None


# ---- the queue --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CustomerRef:
    id: str
    name: str
    email: str
    company: str | None
    plan: str | None


@dataclass(frozen=True)
class QueueRow:
    id: str
    href: str
    subject: str
    status: str
    priority: str
    assignee: str | None
    customer: CustomerRef | None
    chip: Clock | None
    tags: list[str]
    created_at: str
    updated_at: str
    unread: bool = False  #: touched (a change, a message) since this agent last opened it
    number: int | None = None  #: the ticket's human number (#1042)


@dataclass
class QueueFilters:
    """The queue's narrowing filters, as typed in the filter bar (empty string: not set)."""

    status: str = ""
    priority: str = ""
    assignee: str = ""
    category: str = ""
    channel: str = ""
    tag: str = ""
    q: str = ""  #: text in subject
    within: str = (
        ""  #: At risk only: minutes to look ahead instead of two hours (the strip's "within 60 min")
    )

    def active(self) -> bool:
        return any(getattr(self, f) for f in self.__dataclass_fields__)


@dataclass
class QueuePage:
    view: str
    view_label: str
    filters: QueueFilters
    filter_errors: dict[str, str]  #: field -> message, shown beside the filter
    options: dict[str, list[str]]  #: enum options per filter field, from the collection's schema
    sort: str
    sorts: list[tuple[str, str]]  #: (id, label)
    rows: list[QueueRow]
    count: int | None  #: matching tickets across all pages (None when unknown)
    count_capped: bool  #: there are more than `count` (a filtered count stops at 1,000)
    next_href: str | None  #: the next page (keyset cursor), full page
    more_href: str | None  #: the next page's rows only (htmx "show more")
    self_href: str  #: this page without a cursor, for "back to the first page"
    notice: str | None  #: e.g. the SLA sort is unavailable
    me: str
    since: int  #: the workspace's change sequence when the page was made (for "N new — refresh")
    show_customer: bool
    paged: bool  #: this is not the first page
    saved_as: str | None = None  #: the name of the saved view this page is, if any
    save_error: str | None = None  #: why "save this view" failed (shown beside the name)
    bulk: BulkForm = field(default_factory=lambda: BulkForm())
    can_bulk: bool = False  #: the token may change tickets: rows get tick boxes and the bulk bar shows
    agents: list[str] = field(default_factory=list)  #: assignee suggestions for the bulk bar
    #: the bulk bar's assignee picker (agent_picker.py); None without members (free text) or bulk rights
    picker: list[AgentOption] | None = None


@dataclass
class BulkForm:
    """The queue's bulk bar: change status, priority or assignee of the selected (or all matching) tickets."""

    error: str | None = None  #: why nothing was changed (shown in the bar)
    done: int | None = None  #: tickets changed by the last bulk action
    status: str = ""
    priority: str = ""
    assignee: str = ""
    unassign: bool = False
    all: bool = False  #: every ticket matching the view and filters, not just those ticked
    ids: list[str] = field(default_factory=list)  #: the ticked tickets (kept ticked after an error)
    confirm: int | None = None  #: the change takes this many tickets (over 50): asked to confirm the count
    undo: str | None = None  #: the last change can be undone with this id (web/undo.py)
    restored: int | None = None  #: an undo put back this many tickets…
    kept: int = 0  #: …and left this many alone, changed again since
    undo_error: str | None = None  #: why an undo did nothing


@dataclass
class QueueFreshness:
    """The "N updated — refresh" banner polled by an open queue."""

    changed: int
    href: str


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
class QueueNav:
    """The navigation fetched once its counts are ready, with the total of the page's view when the page
    was drawn without one."""

    total: int | None


@dataclass
class PresencePanel:
    """Who else has the ticket open (refreshed by the page's heartbeat), and whether the draft was saved."""

    others: list[Present]
    draft_saved: str | None = None  #: when the heartbeat carried the composer's text: its save time


@dataclass(frozen=True)
class AgentOption:
    """One agent in the assignee picker: who they are, whether they are online (or switched to away), how
    many open tickets they hold now (what an assigner weighs)."""

    email: str  #: the assignee value
    name: str
    online: bool
    open: int
    away: bool = False  #: their own switch: never online while on

    @property
    def presence(self) -> str:
        return "online" if self.online else ("away" if self.away else "offline")


@dataclass(frozen=True)
class TeamOption:
    id: str  #: the ticket's `team` value
    name: str


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


# ---- a new ticket -----------------------------------------------------------------------------------
@dataclass
class NewTicketPage:
    values: dict[str, str]
    errors: dict[str, str]
    form_error: str | None
    options: dict[str, list[str]]
    customer: CustomerRef | None  #: the chosen existing customer
    matches: list[CustomerRef]  #: customers matching the search box
    query: str
    picker: list[AgentOption] | None = None  #: the assignee picker; None without members (free text)


@dataclass
class CustomerMatches:
    """The customer search results fragment of the new-ticket form."""

    matches: list[CustomerRef]
    query: str


# ---- collections ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CollectionCard:
    id: str
    name: str
    description: str
    icon: str
    color: str
    count: int
    href: str
    fields: int


@dataclass
class CollectionsPage:
    collections: list[CollectionCard]


@dataclass(frozen=True)
class RecordRow:
    id: str
    href: str
    cells: list[str]
    updated_at: str
    number: int | None = None  #: a numbered collection's (tickets') `#1042`, shown instead of the id


@dataclass
class CollectionPage:
    collection: CollectionCard
    columns: list[str]
    rows: list[RecordRow]
    count: int
    count_capped: bool  #: a filtered count stops at 1,000
    next_href: str | None
    first_href: str
    filter_field: str
    filter_op: str
    filter_value: str
    filter_error: str | None
    ops: list[tuple[str, str]]
    numbered: bool = False  #: the rows carry numbers: a `#` column leads instead of the id's tail


@dataclass(frozen=True)
class LinkRow:
    rel_id: str
    rel_type: str
    direction: str
    other_collection: str
    other_id: str
    href: str
    label: str | None = None  #: `#1042 Login loop` or a customer's name, when the viewer may read it


@dataclass
class RecordPage:
    collection: CollectionCard
    record: dict[str, Any]
    fields: list[tuple[str, str]]  #: (name, rendered value) in schema order, then any extra keys
    raw: str  #: the record as pretty JSON
    links: list[LinkRow]
    history: list[dict[str, Any]]
    ticket_href: str | None  #: for tickets: the ticket page


# ---- invitations and password resets ------------------------------------------------------------------
@dataclass
class InvitePage:
    """Accepting an invitation: a new person picks a name, time zone and password; someone with an account
    proves it with their password."""

    token: str
    workspace_name: str
    email: str
    role: str
    existing_user: bool
    time_zone: str
    time_zones: list[str]
    name: str = ""
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class ResetPage:
    """Setting a new password with a one-time link."""

    token: str
    email: str
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class LinkGonePage:
    """An invitation or reset link that cannot be used (unknown, used or expired)."""

    title: str
    message: str


@dataclass
class TeamForm:
    """A team as its form shows it: members one per line (`email` or `email:capacity`), in rotation order."""

    id: str = ""
    name: str = ""
    rule: str = "manual"
    members: str = ""
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class TeamRow:
    id: str
    name: str
    rule: str
    members: list[str]  #: "Name (email) · capacity N", in rotation order
    form: TeamForm
    action: str  #: where its form posts
    delete_action: str


@dataclass
class TeamsPage:
    """Settings → Teams: the workspace's teams, a form each, and one that adds a team."""

    workspace: str
    rows: list[TeamRow]
    form: TeamForm  #: the "add a team" form
    create_href: str
    rules: list[tuple[str, str]]  #: (value, label) of the assignment rules
    people: list[str]  #: the workspace's members' emails, as a reminder beside the members box
    notice: str | None = None
    error: str | None = None

"""Typed page contexts: each template renders exactly one of these (as `page`) plus the layout's `shell`.

Fields are documented where they are declared; tests/web/test_templates.py checks that every `page.<name>`
and `shell.<name>` a template reads is a declared field, so templates and views cannot drift apart. This module
holds the layout and the smaller pages; the queue's, the ticket page's, search's, the dashboard's, mail's and
the settings pages' contexts have modules of their own (`*_pages.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deskbase.core.context import Actor


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


# ---- shared by the queue, the ticket page and the new-ticket form -----------------------------------
@dataclass(frozen=True)
class CustomerRef:
    id: str
    name: str
    email: str
    company: str | None
    plan: str | None


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

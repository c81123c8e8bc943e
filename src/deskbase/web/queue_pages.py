"""Typed contexts of the queue: its rows, filters, bulk bar, navigation counts and freshness poll (as
web/pages.py, checked by test_templates)."""

from __future__ import annotations

from dataclasses import dataclass, field

from deskbase.web.pages import AgentOption, CustomerRef
from deskbase.web.sla import Clock


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


@dataclass
class QueueNav:
    """The navigation fetched once its counts are ready, with the total of the page's view when the page
    was drawn without one."""

    total: int | None

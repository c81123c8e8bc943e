"""Typed page contexts of Settings → Integrations (see pages.py for the rule every context follows)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RateView:
    """A failure rate over a window of settled deliveries."""

    text: str  #: "12% (6 of 50)", or "—" with nothing settled
    level: str  #: ok | warn | bad | none: a CSS class (the text carries the number; colour is not the signal)
    note: str = ""  #: e.g. "newest 10,000 read"


@dataclass(frozen=True)
class StatusCount:
    status: str  #: pending | failed | exhausted
    count: int
    href: str  #: the delivery log filtered to this status: it lists exactly `count` rows


@dataclass(frozen=True)
class LastAttemptView:
    at: str
    ok: bool
    text: str  #: "HTTP 200", or the error when no answer came


@dataclass(frozen=True)
class TriggerRow:
    id: str
    href: str  #: the trigger's page with its delivery log
    actions: str  #: the prefix of its POST forms (…/triggers/<id>)
    url: str  #: shown as text, never as a link
    events: list[str]
    collections: list[str] | None  #: None: every collection
    filter: str  #: the filter as JSON text ("" when none)
    description: str
    enabled: bool
    disabled_reason: str | None
    owner: str  #: who configured it last (a token's name where this viewer may see it, else its id)
    created_at: str
    last: LastAttemptView | None
    day: RateView  #: deliveries queued in the last 24 hours
    recent: RateView  #: the newest 100 deliveries
    counts: list[StatusCount]


@dataclass
class TriggerForm:
    """The "add a trigger" form, with what was typed and why it was refused."""

    id: str = ""
    url: str = ""
    events: list[str] = field(default_factory=list)
    collections: str = ""  #: comma-separated; empty: every collection
    filter: str = ""  #: JSON
    description: str = ""
    errors: dict[str, str] = field(default_factory=dict)  #: field -> message


@dataclass(frozen=True)
class NewSecret:
    """A signing secret shown this once (after creating a trigger or rotating its secret)."""

    trigger_id: str
    secret: str
    rotated: bool


@dataclass
class TriggersSection:
    """Outbound triggers (webhooks) with their health and the forms that manage them."""

    rows: list[TriggerRow]
    form: TriggerForm
    event_types: list[tuple[str, str]]  #: (value, label) of the events checkboxes, "*" first
    create_href: str
    available: bool = True  #: False: webhooks are not installed on this server
    secret: NewSecret | None = None
    notice: str | None = None  #: what the last action did
    error: str | None = None  #: why the last action did nothing


@dataclass
class IntegrationsPage:
    """Settings → Integrations of one workspace: one section per kind of integration, each from its own
    view function and partial (templates/integrations/_<section>.html)."""

    workspace: str
    triggers: TriggersSection


@dataclass(frozen=True)
class AttemptView:
    n: int
    at: str
    ok: bool
    status: str  #: "HTTP 500", or "no answer"
    duration_ms: int
    error: str | None
    response: str | None  #: the first KiB of the response body (escaped when rendered)


@dataclass(frozen=True)
class DeliveryRow:
    id: str
    event_id: str
    type: str
    seq: int
    status: str  #: pending | failed | delivered | exhausted
    origin: str  #: live | replay | retry | test
    created_at: str
    next_attempt_at: str | None
    delivered_at: str | None
    attempts: list[AttemptView]
    retry_href: str | None  #: set for failed and exhausted deliveries


@dataclass
class TriggerPage:
    """One trigger: its health, its delivery log (newest first, by cursor, filtered by status), replay."""

    trigger: TriggerRow
    workspace: str
    back: str  #: the integrations page
    status: str  #: the log's status filter ("" for all)
    statuses: list[str]
    rows: list[DeliveryRow]
    next_href: str | None
    first_href: str  #: the log's first page with the same filter
    filter_error: str | None = None
    notice: str | None = None
    replay_error: str | None = None
    since_seq: str = ""
    paged: bool = False  #: this is not the log's first page


@dataclass
class DeliveryUpdate:
    """One delivery row, re-sent after a retry (htmx swaps it in place)."""

    row: DeliveryRow
    notice: str

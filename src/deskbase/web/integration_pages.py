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
    version: int  #: the version the page shows; the enable/disable form sends it back as If-Match
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


# ---- inbound hooks -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class IngestView:
    """One entry of a hook's ingest log."""

    id: str
    webhook_id: str | None
    received_at: str
    status: str  #: created | updated | failed
    record_id: str | None
    record_href: str | None  #: the record written (a ticket's page, else the collection browser)
    error_code: str | None  #: of a refused ingest
    error_message: str | None
    error_details: str | None  #: the error's details as indented JSON text (escaped when rendered)


@dataclass(frozen=True)
class HookRow:
    id: str
    href: str  #: the hook's page with its ingest log
    actions: str  #: the prefix of its POST forms (…/hooks/<id>)
    collection: str
    verify: str  #: standard-webhooks | none
    ingest_url: str  #: where senders POST (shown as text, never as a link)
    enabled: bool
    disabled_reason: str | None  #: why it is disabled: an admin, or its owner token revoked or expired
    version: int  #: the version the page shows; the enable/disable form sends it back as If-Match
    description: str
    mapping: str  #: the mapping as JSON text
    external_id: str | None  #: the payload pointer records are upserted by
    owner: str  #: who configured it last (a token's name where this viewer may see it, else its id)
    created_at: str
    previous_secret_until: str | None  #: a rotated-out secret still verifies until then
    last: IngestView | None  #: the newest ingest-log entry
    refused: StatusCount  #: ingests refused after the sender was verified, linked to the log filtered to them


@dataclass
class HookForm:
    """The "add a hook" form, with what was typed and why it was refused."""

    id: str = ""
    collection: str = ""
    mapping: str = ""  #: JSON
    external_id: str = ""
    verify: str = "standard-webhooks"
    description: str = ""
    errors: dict[str, str] = field(default_factory=dict)  #: field -> message


@dataclass(frozen=True)
class HookCreated:
    """What a sender needs, shown this once: the ingest URL and the secret (none when nothing is verified)."""

    hook_id: str
    ingest_url: str
    secret: str | None
    rotated: bool  #: a rotation, not a creation (the ingest URL stays the same)


@dataclass
class HooksSection:
    """Inbound hooks with their ingest summary and the forms that manage them."""

    rows: list[HookRow]
    form: HookForm
    collections: list[str]  #: the workspace's collections, for the form's choice
    create_href: str
    available: bool = True  #: False: webhooks (and so hooks) are not installed on this server
    created: HookCreated | None = None
    notice: str | None = None
    error: str | None = None


@dataclass
class HookPage:
    """One hook: its summary and actions, then its ingest log (newest first, by cursor, filtered by status)."""

    hook: HookRow
    workspace: str
    back: str  #: the integrations page
    status: str  #: the log's status filter ("" for all)
    statuses: list[str]
    rows: list[IngestView]
    next_href: str | None
    first_href: str  #: the log's first page with the same filter
    filter_error: str | None = None
    paged: bool = False  #: this is not the log's first page


@dataclass
class IntegrationsPage:
    """Settings → Integrations of one workspace: one section per kind of integration, each from its own
    view function and partial (templates/integrations/_<section>.html)."""

    workspace: str
    triggers: TriggersSection
    hooks: HooksSection


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

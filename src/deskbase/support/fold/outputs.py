"""What an evaluation returns: SLA instances, SLA events and response metrics, and their JSON form (pure)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

InstanceState = Literal["active", "paused", "warning", "breached_active", "achieved", "breached", "cancelled"]
EventKind = Literal[
    "activate", "pause", "resume", "warn", "breach", "fulfil", "cancel", "recompute", "escalate"
]


@dataclass(frozen=True)
class SlaInstance:
    metric: str
    cycle: int
    policy_id: str
    policy_version: int
    business: bool
    priority: str
    started_at: datetime
    target_seconds: int
    target_at: datetime
    warn_at: datetime | None
    state: InstanceState
    paused: bool
    pause_reason: str | None
    elapsed_business_seconds: int
    elapsed_calendar_seconds: int
    remaining_business_seconds: int
    remaining_calendar_seconds: int
    paused_seconds: int
    completed_at: datetime | None
    breached_at: datetime | None
    restarts: int = 0
    cancel_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: json_ready(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class SlaEvent:
    metric: str
    cycle: int
    kind: EventKind
    at: datetime
    details: Mapping[str, Any] = field(hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "cycle": self.cycle,
            "kind": self.kind,
            "at": iso(self.at),
            "details": self.details,
        }


@dataclass(frozen=True)
class TicketMetrics:
    """Measured durations and counts (not SLA clocks: no pauses, except ``on_hold_seconds`` counts them)."""

    first_response_at: datetime | None = None
    first_response_seconds_calendar: int | None = None
    first_response_seconds_business: int | None = None
    agent_replies: int = 0
    customer_replies: int = 0
    internal_notes: int = 0
    last_agent_message_at: datetime | None = None
    last_customer_message_at: datetime | None = None
    awaiting: Literal["agent", "customer"] | None = None
    reopens: int = 0
    first_resolved_at: datetime | None = None
    resolved_at: datetime | None = None
    full_resolution_seconds_calendar: int | None = None
    full_resolution_seconds_business: int | None = None
    requester_wait_seconds: int = 0
    on_hold_seconds: int = 0
    agent_work_seconds: int = 0
    status_seconds: Mapping[str, int] = field(default_factory=dict, hash=False)
    assignee_changes: int = 0
    one_touch: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {k: json_ready(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Evaluation:
    instances: tuple[SlaInstance, ...]
    events: tuple[SlaEvent, ...]
    metrics: TicketMetrics
    next_due: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "instances": [i.to_dict() for i in self.instances],
            "events": [e.to_dict() for e in self.events],
            "metrics": self.metrics.to_dict(),
            "next_due": json_ready(self.next_due),
        }


@lru_cache(maxsize=65536)
def iso(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


_PLAIN = frozenset({str, int, float, bool, type(None)})


def json_ready(value: Any) -> Any:
    """JSON-ready copy (hot: every stored instance and event passes here), exact types checked first."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is datetime:
        return iso(value)
    if kind is dict or isinstance(value, Mapping):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return iso(value)
    return value

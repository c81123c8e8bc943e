"""What an evaluation reads: the ticket's versions, its classified messages and the policy eras (pure)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from deskbase.support.calendar import Calendar
from deskbase.support.policy import Policy

MessageKind = Literal["customer", "agent", "note"]


@dataclass(frozen=True)
class TicketVersion:
    """One version of the ticket record, in change order; the first is the creation."""

    at: datetime
    data: Mapping[str, Any] = field(hash=False)
    deleted: bool = False


@dataclass(frozen=True)
class Message:
    """A response, already classified by the service. A removed message is ignored entirely."""

    id: str
    at: datetime
    kind: MessageKind
    author: str | None = None
    removed_at: datetime | None = None


@dataclass(frozen=True)
class TicketFacts:
    ticket_id: str
    versions: tuple[TicketVersion, ...]
    messages: tuple[Message, ...]
    customer: Mapping[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class PolicyEra:
    """The policy selected for the ticket (or None) and its calendar version, in force from ``effective_from``.

    Pass the same Calendar instance for every era of one calendar version: its open-time index is cached.
    """

    effective_from: datetime
    policy: Policy | None
    calendar: Calendar

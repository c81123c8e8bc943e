"""Events and which triggers receive them (pure).

A trigger receives an event when all hold: the event's type is one it lists (or it lists `*`); the event is
newer than the trigger (`seq > start_seq`); the trigger lists no collections or one the event touches; its
filter (the record filter language, evaluated in Python) holds on the event's subject record; the token
that configured the trigger could read what the event shows (its grants are recorded with the trigger); and,
the loop guard, the change was not made by an inbound hook unless the trigger opts in (`include_hook_writes`):
a hook fed by a trigger's receiver would otherwise echo every change back and forth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deskbase.core import filterlang
from deskbase.core.auth import permits
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.filters import Field, parse_field

RECORD_TYPES = ("record.created", "record.updated", "record.deleted")
TYPES = (
    *RECORD_TYPES,
    "relationship.created",
    "relationship.deleted",
    "ticket.message",
    "sla.warning",
    "sla.breached",
    "sla.escalated",
)
TEST_TYPE = "trigger.test"
ALL = "*"
#: The actor id prefix of writes made by an inbound hook (`hook:<hook id>`); tokens are `tok_…`, so no token
#: can pass for a hook.
HOOK_ACTOR = "hook:"


@dataclass(frozen=True)
class Event:
    """One event as it will be delivered; `needs` lists the (permission, collection) pairs a reader needs."""

    id: str
    type: str
    workspace_id: str
    seq: int
    at: datetime
    data: Mapping[str, Any] = field(hash=False)
    order_key: str
    collections: tuple[str, ...]
    needs: tuple[tuple[str, str], ...]
    subject: Mapping[str, Any] | None = field(default=None, hash=False)  # the record a filter reads
    actor: str | None = None  # who made the change (None: the system, e.g. an SLA clock)

    @property
    def by_hook(self) -> bool:
        return self.actor is not None and self.actor.startswith(HOOK_ACTOR)

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "timestamp": iso(self.at),
            "workspace_id": self.workspace_id,
            "seq": self.seq,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class TriggerSpec:
    """What matching needs of a trigger (built from its row by the store)."""

    workspace_id: str
    id: str
    events: frozenset[str]
    collections: frozenset[str] | None
    filter: filterlang.Node | None = field(hash=False)
    owner: Actor = field(hash=False)
    start_seq: int = 0
    include_hook_writes: bool = False


def check_filter_field(raw: Any, _pointer: str) -> Field:
    return parse_field(raw)


def compile_filter(raw: Any) -> filterlang.Node | None:
    """Validate a trigger filter (raises FilterError or InvalidFilter)."""
    return (
        None if raw is None else filterlang.parse(raw, check_filter_field, filterlang.PYTHON_OPS, "/filter")
    )


def _lookup(record: Mapping[str, Any]) -> filterlang.Lookup:
    def value(f: Field) -> Any:
        if f.system is not None:
            return record.get(f.system)
        return filterlang.path_value(record.get("data"), f.path)

    return value


def matches(trigger: TriggerSpec, event: Event) -> bool:
    if event.workspace_id != trigger.workspace_id or event.seq <= trigger.start_seq:
        return False
    if event.by_hook and not trigger.include_hook_writes:
        return False
    if ALL not in trigger.events and event.type not in trigger.events:
        return False
    if trigger.collections is not None and not trigger.collections.intersection(event.collections):
        return False
    if trigger.filter is not None and (
        event.subject is None or not filterlang.matches(trigger.filter, _lookup(event.subject))
    ):
        return False
    return visible(trigger.owner, event)


def visible(owner: Actor, event: Event) -> bool:
    return all(permits(owner, p, event.workspace_id, c) for p, c in event.needs)


def check_types(events: Sequence[Any]) -> list[str]:
    """The unknown entries of a trigger's `events` list."""
    return [e for e in events if e != ALL and e not in TYPES]


__all__ = ["ALL", "HOOK_ACTOR", "TEST_TYPE", "TYPES", "Event", "TriggerSpec", "compile_filter", "matches"]

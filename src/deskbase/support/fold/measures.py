"""Response metrics during the walk: messages said, time per status, on-hold spans -> TicketMetrics (pure)."""

from typing import Any, Literal

from deskbase.support.fold.inputs import Message
from deskbase.support.fold.open_time import SEC, Instants
from deskbase.support.fold.outputs import TicketMetrics
from deskbase.support.policy import SOLVED_STATUSES, Policy

_DEFAULT_PAUSE = frozenset({"waiting"})
_WAITING_ON_AGENT = frozenset({"open", "in_progress"})


class Measures(Instants):
    """The accumulators behind TicketMetrics (a part of the walk, which updates them at status changes)."""

    created: int
    now: int
    policy: Policy | None
    status: Any
    deleted_at: int | None
    said: dict[str, int]
    last_said: dict[str, int]
    first_agent: int | None
    first_agent_biz: int
    last_reply: str | None
    biz: int
    resolved_biz: int
    reopens: int
    assignee_changes: int
    first_solve: int | None
    last_solve: int | None
    seg: int
    hold_from: int
    on_hold: int
    status_us: dict[str, int]

    def _said(self, at: int, m: Message) -> None:
        kind = m.kind
        self.said[kind] += 1
        self.last_said[kind] = at
        if kind == "agent" and self.first_agent is None:
            self.first_agent, self.first_agent_biz = at, self.biz
        if kind != "note":
            self.last_reply = kind

    def _held(self, until: int) -> int:
        """On-hold time of the current status from the last era or status boundary up to ``until``."""
        pause = _DEFAULT_PAUSE if self.policy is None else self.policy.pause_statuses
        if until > self.hold_from and isinstance(self.status, str) and self.status in pause:
            return until - self.hold_from
        return 0

    def _hold(self, until: int) -> None:
        """Close the on-hold span at an era or status boundary (the next span may pause other statuses)."""
        self.on_hold += self._held(until)
        self.hold_from = max(self.hold_from, until)

    def _metrics(self) -> TicketMetrics:
        created, now = self.created, self.now
        end = now if self.deleted_at is None else self.deleted_at
        counts, last, first_agent = self.said, self.last_said, self.first_agent
        status_us = dict(self.status_us)
        if end > self.seg and isinstance(self.status, str):
            status_us[self.status] = status_us.get(self.status, 0) + end - self.seg
        held = self.on_hold + self._held(end)
        solved = self.deleted_at is None and self.status in SOLVED_STATUSES
        resolved_at = self.last_solve if solved else None
        awaiting: Literal["agent", "customer"] | None = None
        if self.deleted_at is None and not solved:
            awaiting = "customer" if self.last_reply == "agent" else "agent"
        return TicketMetrics(
            first_response_at=self._time_or_none(first_agent),
            first_response_seconds_calendar=None if first_agent is None else (first_agent - created) // SEC,
            first_response_seconds_business=None if first_agent is None else self.first_agent_biz // SEC,
            agent_replies=counts["agent"],
            customer_replies=counts["customer"],
            internal_notes=counts["note"],
            last_agent_message_at=self._time_or_none(last.get("agent")),
            last_customer_message_at=self._time_or_none(last.get("customer")),
            awaiting=awaiting,
            reopens=self.reopens,
            first_resolved_at=self._time_or_none(self.first_solve),
            resolved_at=self._time_or_none(resolved_at),
            full_resolution_seconds_calendar=None if resolved_at is None else (resolved_at - created) // SEC,
            full_resolution_seconds_business=None if resolved_at is None else self.resolved_biz // SEC,
            requester_wait_seconds=sum(status_us.get(s, 0) for s in _WAITING_ON_AGENT) // SEC,
            on_hold_seconds=held // SEC,
            agent_work_seconds=status_us.get("in_progress", 0) // SEC,
            status_seconds={s: us // SEC for s, us in status_us.items()},
            assignee_changes=self.assignee_changes,
            one_touch=solved and counts["agent"] == 1,
        )

"""Assignment rules, as pure functions: which member of a team a ticket entering it goes to.

A member is eligible when they are an agent of the workspace, online, and under their capacity (their open
tickets fewer than it; no capacity means no limit). Then:

- ``manual``: nobody; the ticket waits in the team's queue.
- ``round_robin``: the first eligible member after the one the rule chose last, in the team's order
  (wrapping around; from the top when the last one is no longer in the team).
- ``least_loaded``: the eligible member with the fewest open tickets; among equals, the one round-robin
  would reach first, so ties rotate instead of always landing on the same person.

No eligible member means no assignee: the ticket stays unassigned in the team's queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MANUAL, ROUND_ROBIN, LEAST_LOADED = "manual", "round_robin", "least_loaded"
#: The statuses of a ticket someone still has to work on: what "open load" counts and rules act on.
OPEN_STATUSES = ("open", "in_progress", "waiting")


@dataclass(frozen=True)
class Candidate:
    user_id: str
    agent: bool
    online: bool
    load: int  #: open tickets assigned to them now
    capacity: int | None

    @property
    def eligible(self) -> bool:
        return self.agent and self.online and (self.capacity is None or self.load < self.capacity)


def rotation(members: Sequence[Candidate], last: str | None) -> list[Candidate]:
    """The members in the order round-robin visits them next: after `last`, wrapping around."""
    ids = [m.user_id for m in members]
    start = ids.index(last) + 1 if last in ids else 0
    return [*members[start:], *members[:start]]


def choose(rule: str, members: Sequence[Candidate], last: str | None) -> str | None:
    """The user id the rule gives the ticket to, or None (manual, or no eligible member)."""
    if rule == MANUAL:
        return None
    order = [m for m in rotation(members, last) if m.eligible]
    if not order:
        return None
    if rule == ROUND_ROBIN:
        return order[0].user_id
    if rule == LEAST_LOADED:
        return min(enumerate(order), key=lambda pair: (pair[1].load, pair[0]))[1].user_id
    raise ValueError(f"unknown assignment rule {rule!r}")

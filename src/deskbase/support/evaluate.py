"""Ticket facts -> SLA instances, SLA events and response metrics at an instant ``now`` (pure).

``evaluate(facts, timeline, now)`` replays one ticket's whole history (versions, classified messages, and the
policy/calendar eras the service selected) up to ``now``. It reads no clock and keeps no state between calls:
the write path, the scheduler, a change-log replay and a what-if run all call it and get the same answer.
docs/sla.md explains the rules below with worked examples. This module is the spec and the public entry
points; the machinery that carries it out lives in ``deskbase.support.fold``.

Replay = live. Inputs after ``now`` are ignored, so evaluating the full history at ``now = t`` equals having
evaluated live at ``t``: the events of a later evaluation, cut at ``t``, are exactly the earlier ones, and a
completed instance never changes. Events are those with ``at <= now``, in time order.

Obligations. Something the ticket waits for; it exists whatever the policy says and is numbered by ``cycle``
(the n-th of its metric, from 1):

- first_response (cycle 1): creation -> the first agent message at or after it. Cancelled if the ticket is
  solved (resolved/closed) or deleted before any agent message.
- next_response: one per customer message arriving after the first agent message while the ticket is
  unsolved; fulfilled by the next agent message (one reply fulfils every customer message waiting). Cancelled
  if the ticket is solved first. Before the first agent reply first_response covers the wait; a customer
  message on a solved ticket opens nothing (its reopen starts a resolution cycle).
- periodic_update: one per agent message while the ticket is unsolved; fulfilled by the next agent message;
  cancelled when solved.
- first_resolution (cycle 1): creation -> first solve. resolution: one per unsolved period, cycle = reopens
  + 1, from creation or the reopen to the next solve. A reopen is a change from a solved status to an unsolved
  one. A ticket created already solved has no first_* obligations.
- Internal notes never fulfil anything. Removed messages are ignored entirely (a removal rewrites history;
  the service re-evaluates). A message stamped before the ticket's creation counts as sent at creation.
- Deletion cancels everything running; nothing after the first deleted version counts (terminal).

Inputs at one instant apply in this order: policy era, creation, agent messages fulfilling what was open,
ticket versions (deletion, status, priority), then messages opening obligations. So a reply sent together
with "resolve" fulfils before the solve and opens no periodic update, and a customer reply arriving with its
reopen opens a next_response. A message at the same instant as a customer message does not answer it.

Instances. An SLA instance measures an obligation against the era policy's target for (metric, ticket
priority). Without a target (no policy; metric or priority not in it) the obligation is not measured; it is
measured from the instant a target appears through a priority or policy change (elapsed 0). Whenever an
instance is cancelled and measuring starts again (``restart``, a target lost and regained, a policy removed
and restored), the new incarnation is a separate SlaInstance with the same metric and cycle and ``restarts``
one higher; events carry ``details["restart"]``. The key of an instance is (metric, cycle, restarts).

Clocks. An instance's clock runs in business time on the era calendar (``Target.business``) or in plain
time. While the status is in the policy's ``pause_statuses`` every running instance is paused (reason
"status:waiting"): the clock stops and ``paused_seconds`` counts the wall time. ``elapsed_business_seconds``
always counts business time on the era calendar, ``elapsed_calendar_seconds`` wall time while not paused; the
target is compared with the one its Target names. Arithmetic is exact, on integer microseconds.

Warnings and breaches fire at the exact instant the clock reaches the warning threshold
(``Policy.warning_after``) or the target (elapsed == target), computed with business-time arithmetic, never by
polling. A fulfilment at that very instant wins (achieved). Warned and breached are sticky: a later, longer
target does not undo them. After a breach ``target_at`` is the breach instant.

Priority change mid-flight (``Policy.priority_change``): ``carry`` keeps the elapsed time and switches to the
new priority's target (a "recompute" event); a clock already past the new warning or target warns and
breaches AT the change instant, never retroactively. ``restart`` cancels the instance and starts a new
incarnation at the change with elapsed 0. ``keep`` leaves the running instance on its original priority and
target. Under carry or restart a priority without a target cancels the instance ("no_target").

Policy eras. A new era re-bases running instances: elapsed time so far is kept, the remaining time follows
the new policy version and calendar ("recompute" at the era start, reason "policy_change" or
"calendar_change"; a target already passed breaches at that instant). Completed instances never change. An era
without a policy, or without a target for the instance's metric and priority, cancels it.

Escalations. Each ladder step of the instance's current policy that applies to its metric yields one
"escalate" event at its trigger instant: the warning instant, the breach instant, or breach + N wall-clock
seconds, the last only if the instance is still open then (paused or not) and only for steps in the policy
in force at that instant, never retroactively. Details carry ``step`` (index in the policy's ladder),
``restart``, ``trigger`` and ``actions``: the service runs each (ticket, metric, cycle, restart, step) once.

States at ``now``. Running: "active", "warning", "paused" (paused, not breached), "breached_active"
(breached, even if paused: ``paused`` says so). Completed: "achieved" (fulfilled, never breached),
"breached" (breached, whether later fulfilled or cancelled), "cancelled" (``cancel_reason`` says why).
``target_at`` is when the budget runs out if the clock runs on without pause from ``now`` (for a completed
instance: from its completion); ``remaining_business_seconds`` is the budget left on the instance's own clock
(business seconds for business targets, plain seconds otherwise; negative when overdue);
``remaining_calendar_seconds`` is ``target_at`` minus ``now`` (or the completion). ``next_due`` is the
earliest instant after ``now`` at which a warning, breach or escalation would fire with no new input: the
scheduler's index.
"""

from collections.abc import Sequence
from datetime import datetime

from deskbase.support.fold.checkpoint import Backdated, Checkpoint, Fold
from deskbase.support.fold.inputs import Message, PolicyEra, TicketFacts, TicketVersion
from deskbase.support.fold.outputs import Evaluation, SlaEvent, SlaInstance, TicketMetrics
from deskbase.support.fold.walk import Run

__all__ = [
    "Backdated",
    "Checkpoint",
    "Evaluation",
    "Fold",
    "Message",
    "PolicyEra",
    "SlaEvent",
    "SlaInstance",
    "TicketFacts",
    "TicketMetrics",
    "TicketVersion",
    "evaluate",
    "fold",
    "resume",
]


def evaluate(facts: TicketFacts, timeline: Sequence[PolicyEra], now: datetime) -> Evaluation:
    """Replay the ticket's history up to ``now`` under the given policy eras (see the module docstring)."""
    f = fold(facts, timeline, now)
    return Evaluation(tuple(i for _, i in f.instances), f.events, f.metrics, f.next_due)


def fold(facts: TicketFacts, timeline: Sequence[PolicyEra], now: datetime) -> Fold:
    """``evaluate`` with its checkpoint: the whole history replayed."""
    return Run.replay(facts, timeline, now).result()


def resume(
    checkpoint: Checkpoint,
    versions: Sequence[TicketVersion],
    messages: Sequence[Message],
    timeline: Sequence[PolicyEra],
    now: datetime,
) -> Fold:
    """Continue a checkpoint with the ticket versions and messages that came after it, up to ``now``.

    The same walk as a replay, started from the stored state, so ``resume(fold(f).checkpoint, new...)`` equals
    ``fold(f + new)``. ``timeline`` is the ticket's timeline (eras before the checkpoint are only checked).
    Raises Backdated when an input sorts before the checkpoint's last input, ``now`` is before it, or the
    timeline in force at the checkpoint is not the one it was folded under: the caller replays instead.
    """
    return Run.resumed(checkpoint, versions, messages, timeline, now).result()

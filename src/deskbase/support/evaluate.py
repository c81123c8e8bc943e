"""Ticket facts -> SLA instances, SLA events and response metrics at an instant ``now`` (pure).

``evaluate(facts, timeline, now)`` replays one ticket's whole history (versions, classified messages, and the
policy/calendar eras the service selected) up to ``now``. It reads no clock and keeps no state between calls:
the write path, the scheduler, a change-log replay and a what-if run all call it and get the same answer.
docs/sla.md explains the rules below with worked examples.

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

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from weakref import WeakKeyDictionary

from deskbase.support.calendar import MAX_CLOSED_DAYS, Calendar, CalendarError
from deskbase.support.policy import SOLVED_STATUSES, Escalation, Policy, Target

__all__ = [
    "Evaluation",
    "Message",
    "PolicyEra",
    "SlaEvent",
    "SlaInstance",
    "TicketFacts",
    "TicketMetrics",
    "TicketVersion",
    "evaluate",
]

MessageKind = Literal["customer", "agent", "note"]
InstanceState = Literal["active", "paused", "warning", "breached_active", "achieved", "breached", "cancelled"]
EventKind = Literal[
    "activate", "pause", "resume", "warn", "breach", "fulfil", "cancel", "recompute", "escalate"
]

SEC = 1_000_000  # instants and durations are integer microseconds since the epoch inside this module
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_DEFAULT_PAUSE = frozenset({"waiting"})
_WAITING_ON_AGENT = frozenset({"open", "in_progress"})
_RESPONSES = ("first_response", "next_response", "periodic_update")


# --- inputs ---


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


# --- outputs ---


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
        return {k: _json(v) for k, v in self.__dict__.items()}


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
            "at": _iso(self.at),
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
        return {k: _json(v) for k, v in self.__dict__.items()}


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
            "next_due": _json(self.next_due),
        }


def evaluate(facts: TicketFacts, timeline: Sequence[PolicyEra], now: datetime) -> Evaluation:
    """Replay the ticket's history up to ``now`` under the given policy eras (see the module docstring)."""
    return _Run(facts, timeline, now).result()


# --- open time as integer microseconds ---


class _Wall:
    """Always open: plain-time clocks and 24x7 calendars need no calendar walk at all."""

    @staticmethod
    def between(a: int, b: int) -> int:
        return b - a if b > a else 0

    @staticmethod
    def advance(a: int, need: int) -> int:
        return a + need if need > 0 else a


_WALL = _Wall()
_CHUNK = 28 * 86_400 * SEC
_MAX_EMPTY_CHUNKS = MAX_CLOSED_DAYS // 28 + 2
_CHUNK_LIMIT = 20_000
_FULL_DAY = ((time(0), time(0)),)
_Chunk = tuple[list[int], list[int], list[int]]
_INDEXES: "WeakKeyDictionary[Calendar, _Business | _Wall]" = WeakKeyDictionary()


class _Business:
    """A calendar's open windows cut into 28-day chunks of sorted µs windows with running sums.

    The windows come from ``Calendar.windows`` (one rule for open time, in calendar.py); this index only makes
    "business time between" and "instant after N business seconds" two bisections instead of a calendar walk.
    Holds no reference to the calendar, so the weak cache keyed by it can let go.
    """

    __slots__ = ("chunks",)

    def __init__(self) -> None:
        self.chunks: dict[int, _Chunk] = {}

    def chunk(self, calendar: Calendar, k: int) -> _Chunk:
        hit = self.chunks.get(k)
        if hit is None:
            starts: list[int] = []
            ends: list[int] = []
            sums = [0]
            for s, e in calendar.windows(_dt(k * _CHUNK), _dt((k + 1) * _CHUNK)):
                s_us, e_us = (s - _EPOCH) // _US, (e - _EPOCH) // _US
                starts.append(s_us)
                ends.append(e_us)
                sums.append(sums[-1] + e_us - s_us)
            if len(self.chunks) >= _CHUNK_LIMIT:
                self.chunks.clear()
            hit = self.chunks[k] = (starts, ends, sums)
        return hit


class _Work:
    """Business-time arithmetic on one calendar for one evaluation (calendar + its cached index)."""

    __slots__ = ("calendar", "index")

    def __init__(self, calendar: Calendar, index: _Business) -> None:
        self.calendar = calendar
        self.index = index

    def _upto(self, k: int, x: int) -> int:
        starts, ends, sums = self.index.chunk(self.calendar, k)
        i = bisect_right(starts, x) - 1
        if i < 0:
            return 0
        end = ends[i]
        return sums[i] + (x if x < end else end) - starts[i]

    def between(self, a: int, b: int) -> int:
        if b <= a:
            return 0
        ka, kb = a // _CHUNK, b // _CHUNK
        if ka == kb:
            return self._upto(ka, b) - self._upto(ka, a)
        total = self.index.chunk(self.calendar, ka)[2][-1] - self._upto(ka, a)
        for k in range(ka + 1, kb):
            total += self.index.chunk(self.calendar, k)[2][-1]
        return total + self._upto(kb, b)

    def advance(self, a: int, need: int) -> int:
        """The earliest instant at which ``need`` µs of open time have elapsed since ``a``."""
        if need <= 0:
            return a
        k = a // _CHUNK
        goal = self._upto(k, a) + need
        empty = 0
        while True:
            starts, _, sums = self.index.chunk(self.calendar, k)
            total = sums[-1]
            if goal <= total:
                i = bisect_left(sums, goal) - 1
                return starts[i] + goal - sums[i]
            goal -= total
            empty = empty + 1 if not total else 0
            if empty > _MAX_EMPTY_CHUNKS:
                raise CalendarError(
                    "", f"calendar has no open time in {MAX_CLOSED_DAYS} days from {_dt(k * _CHUNK)}"
                )
            k += 1


def _work(calendar: Calendar) -> "_Work | _Wall":
    index = _INDEXES.get(calendar)
    if index is None:
        always = all(ivs == _FULL_DAY for ivs in calendar.weekly.values())
        always = (
            always and not calendar.overrides and not calendar.holidays and calendar.holiday_country is None
        )
        index = _INDEXES[calendar] = _WALL if always else _Business()
    return index if isinstance(index, _Wall) else _Work(calendar, index)


# --- the replay ---


class _Clock:
    """One incarnation of an SLA instance while it is being replayed."""

    __slots__ = (
        "breached",
        "business",
        "cancel_reason",
        "cycle",
        "el_bus",
        "el_cal",
        "ended",
        "fulfilled",
        "metric",
        "pause_reason",
        "paused",
        "paused_us",
        "policy",
        "priority",
        "restarts",
        "started",
        "target",
        "target_at",
        "warn_after",
        "warned",
    )

    def __init__(self, metric: str, cycle: int, restarts: int, started: int, priority: str) -> None:
        self.metric = metric
        self.cycle = cycle
        self.restarts = restarts
        self.started = started
        self.priority = priority
        self.el_bus = self.el_cal = self.paused_us = 0
        self.paused = False
        self.pause_reason: str | None = None
        self.warned: int | None = None
        self.breached: int | None = None
        self.ended: int | None = None
        self.fulfilled = False
        self.cancel_reason: str | None = None
        self.target_at = 0
        self.policy: Policy
        self.target = 0
        self.business = True
        self.warn_after: int | None = None

    def aim(self, policy: Policy, target: Target) -> None:
        self.policy = policy
        self.target = target.seconds * SEC
        self.business = target.business
        warn = policy.warning_after(target.seconds)
        self.warn_after = None if warn is None else warn // _US

    @property
    def measured(self) -> int:
        return self.el_bus if self.business else self.el_cal


class _Obligation:
    __slots__ = ("clock", "cycle", "incarnations", "metric", "source")

    def __init__(self, metric: str, cycle: int, source: str | None) -> None:
        self.metric = metric
        self.cycle = cycle
        self.source = source
        self.clock: _Clock | None = None
        self.incarnations = 0


_Era = tuple[int, Policy | None, Calendar]
_Event = tuple[int, str, int, EventKind, dict[str, Any]]


class _Run:
    """One evaluation: a time-ordered walk over inputs, advancing every open clock between them."""

    def __init__(self, facts: TicketFacts, timeline: Sequence[PolicyEra], now: datetime) -> None:
        self.now = _us(now, "now")
        self.events: list[_Event] = []
        self.clocks: list[_Clock] = []
        self.open: list[_Obligation] = []
        self.counts = {"next_response": 0, "periodic_update": 0}
        self.agent_seen = False
        self.reopens = 0
        self.solves: list[int] = []
        self.statuses: list[tuple[int, Any]] = []
        self.assignee_changes = 0
        self.deleted_at: int | None = None
        self.messages: list[tuple[int, str, str]] = []
        self.status: Any = None
        self.priority: Any = None
        self.instants: dict[int, datetime] = {}
        versions = facts.versions
        if not versions:
            raise ValueError("a ticket has at least one version (its creation)")
        self.created = _us(versions[0].at, "versions[0].at")
        self.exists = self.created <= self.now
        if not self.exists:
            return
        self.eras = _eras(timeline, self.created, self.now)
        self.works = [_work(cal) for _, _, cal in self.eras]
        self._replay(versions, facts.messages)

    # --- the walk ---

    def _replay(self, versions: Sequence[TicketVersion], messages: Iterable[Message]) -> None:
        now, created = self.now, self.created
        items: list[tuple[int, int, int, Any]] = [
            (at, 0, i, None) for i, (at, _, _) in enumerate(self.eras) if i
        ]
        first = versions[0]
        status, priority, assignee = (
            first.data.get("status"),
            first.data.get("priority"),
            first.data.get("assignee"),
        )
        last_at = created
        end = now
        for i, v in enumerate(versions[1:], 1):
            at = _us(v.at, f"versions[{i}].at")
            if v.at.tzinfo is UTC:
                self.instants[at] = v.at
            if at < last_at:
                raise ValueError(f"versions[{i}] is older than the version before it")
            last_at = at
            if at > now:
                break
            data = v.data
            if v.deleted:
                items.append((at, 2, i, v))
                end = at
                break
            if data.get("assignee") != assignee:
                self.assignee_changes += 1
                assignee = data.get("assignee")
            if data.get("status") != status or data.get("priority") != priority:
                status, priority = data.get("status"), data.get("priority")
                items.append((at, 2, i, v))
        if first.deleted:
            end = created
        for i, m in enumerate(messages):
            if m.removed_at is not None:
                continue
            at = _us(m.at, f"messages[{i}].at")
            if at > end:
                continue
            if at < created:
                at = created
            elif m.at.tzinfo is UTC:
                self.instants[at] = m.at
            kind = m.kind
            if kind == "agent":
                items.append((at, 1, i, m))
                items.append((at, 3, i, m))
            elif kind == "customer":
                items.append((at, 3, i, m))
            elif kind != "note":
                raise ValueError(f"messages[{i}].kind must be 'customer', 'agent' or 'note', got {kind!r}")
            self.messages.append((at, kind, m.id))
        items.sort(key=lambda item: (item[0], item[1], item[2]))
        self.messages.sort(key=lambda m: m[0])

        self.era = 0
        _, self.policy, self.calendar = self.eras[0]
        self.work = self.works[0]
        self.status, self.priority = first.data.get("status"), first.data.get("priority")
        self.solved = self.status in SOLVED_STATUSES
        self.statuses.append((created, self.status))
        if first.deleted:
            self.deleted_at = created
            return
        if not self.solved:
            for metric in ("first_response", "first_resolution", "resolution"):
                self._open(metric, 1, None, created, "created")
        prev = created
        for at, phase, _, obj in items:
            if at > prev:
                self._advance(prev, at, inclusive=False)
                prev = at
            if phase == 0:
                self._enter_era(at)
            elif phase == 1:
                self._agent_replied(at, obj)
            elif phase == 2:
                self._version(at, obj)
                if self.deleted_at is not None:
                    break
            elif obj.kind == "customer":
                if not self.solved and self.agent_seen:
                    self.counts["next_response"] += 1
                    self._open("next_response", self.counts["next_response"], obj.id, at, "customer_message")
            elif not self.solved:
                self.counts["periodic_update"] += 1
                self._open("periodic_update", self.counts["periodic_update"], obj.id, at, "agent_message")
        self._advance(prev, now, inclusive=True)

    def _advance(self, a: int, b: int, *, inclusive: bool) -> None:
        """Run every open clock over [a, b) (or [a, b] at the end), firing what falls due in between."""
        span = b - a
        business = -1
        for ob in self.open:
            c = ob.clock
            if c is None:
                continue
            if c.paused:
                ran = 0
            else:
                if business < 0:
                    business = self.work.between(a, b)
                ran = business if c.business else span
            m = c.el_bus if c.business else c.el_cal
            # Most segments fire nothing; skip the call unless a threshold is within reach or breach+N may be.
            quiet = c.breached is None and c.target - m > ran
            if not (quiet and (c.warned is not None or c.warn_after is None or c.warn_after - m > ran)):
                self._due(c, a, b, inclusive, ran)
            if c.paused:
                c.paused_us += span
            else:
                c.el_bus += business
                c.el_cal += span

    def _due(self, c: _Clock, a: int, b: int, inclusive: bool, ran: int, *, delayed: bool = True) -> None:
        """Fire c's warning, breach and (with ``delayed``) breach+N escalations falling in the segment from ``a``.

        ``ran`` is how far c's own clock moves in the segment (0 while paused): a threshold already reached
        fires at ``a`` (after the inputs at ``a``), one reached inside the segment at its exact instant.
        The immediate check after a target change passes ``delayed=False``: the segment that follows starts
        at the same instant and owns the breach+N steps, so none fires twice.
        """
        m = c.measured
        work = self.work if c.business else _WALL
        if c.warned is None and c.warn_after is not None:
            need = c.warn_after - m
            if need <= 0 or need <= ran:
                x = work.advance(a, need)
                if x < b or (inclusive and x == b):
                    self._warn(c, x)
        if c.breached is None:
            need = c.target - m
            if need <= 0 or need <= ran:
                x = work.advance(a, need)
                if x < b or (inclusive and x == b):
                    self._breach(c, x, m + (need if need > 0 else 0))
        if delayed and c.breached is not None:
            for index, step in c.policy.ladder(c.metric):
                if step.kind == "breach" and step.delay_seconds:
                    x = c.breached + step.delay_seconds * SEC
                    if a <= x and (x < b or (inclusive and x == b)):
                        self._escalate(c, x, index, step)

    # --- inputs ---

    def _enter_era(self, at: int) -> None:
        self.era += 1
        _, policy, calendar = self.eras[self.era]
        calendar_changed = calendar is not self.calendar and calendar != self.calendar
        self.policy, self.calendar, self.work = policy, calendar, self.works[self.era]
        for ob in list(self.open):
            c = ob.clock
            if c is None:
                self._start(ob, at, "policy_change")
                continue
            target = None if policy is None else policy.target(c.metric, c.priority)
            if policy is None or target is None:
                self._end(ob, at, "no_policy" if policy is None else "no_target")
                continue
            old = c.policy
            same_policy = old is policy or (old.id, old.version) == (policy.id, policy.version)
            if same_policy and not calendar_changed and c.target == target.seconds * SEC:
                continue
            previous = _aim_details(c)
            c.aim(policy, target)
            reason = "calendar_change" if same_policy else "policy_change"
            self._emit(at, c, "recompute", {"reason": reason, "previous": previous, **_aim_details(c)})
            self._due(c, at, at, True, 0, delayed=False)
        self._repause(at)

    def _agent_replied(self, at: int, message: Message) -> None:
        self.agent_seen = True
        keep = []
        for ob in self.open:
            if ob.metric in _RESPONSES:
                self._end(ob, at, None, message.id)
            else:
                keep.append(ob)
        self.open = keep

    def _version(self, at: int, v: TicketVersion) -> None:
        if v.deleted:
            for ob in self.open:
                self._end(ob, at, "deleted")
            self.open = []
            self.deleted_at = at
            return
        status, priority = v.data.get("status"), v.data.get("priority")
        priority_changed = priority != self.priority
        self.priority = priority
        if status != self.status:
            self.status = status
            self.statuses.append((at, status))
            solved = status in SOLVED_STATUSES
            if solved and not self.solved:
                self.solves.append(at)
                for ob in self.open:
                    fulfils = ob.metric in ("first_resolution", "resolution")
                    self._end(ob, at, None if fulfils else "solved")
                self.open = []
            reopened = self.solved and not solved
            self.solved = solved
            if reopened:
                self.reopens += 1
                self._open("resolution", self.reopens + 1, None, at, "reopened")
        if priority_changed:
            self._priority_changed(at, priority)
        self._repause(at)

    def _priority_changed(self, at: int, priority: Any) -> None:
        policy = self.policy
        for ob in list(self.open):
            c = ob.clock
            if c is None or policy is None:  # no policy: nothing is measured, nothing to change
                self._start(ob, at, "priority_change")
                continue
            if c.priority == priority or policy.priority_change == "keep":
                continue
            target = policy.target(c.metric, priority)
            if policy.priority_change == "restart" or target is None:
                self._end(ob, at, "priority_change" if target is not None else "no_target")
                self._start(ob, at, "restart")
                continue
            previous = _aim_details(c)
            c.priority = priority
            c.aim(policy, target)
            self._emit(
                at, c, "recompute", {"reason": "priority_change", "previous": previous, **_aim_details(c)}
            )
            self._due(c, at, at, True, 0, delayed=False)

    def _repause(self, at: int) -> None:
        policy = self.policy
        paused = policy is not None and self.status in policy.pause_statuses
        reason = f"status:{self.status}" if paused else None
        for ob in self.open:
            c = ob.clock
            if c is not None and c.paused != paused:
                c.paused, c.pause_reason = paused, reason
                self._emit(
                    at, c, "pause" if paused else "resume", {"reason": reason or f"status:{self.status}"}
                )

    # --- clocks ---

    def _open(self, metric: str, cycle: int, source: str | None, at: int, reason: str) -> None:
        ob = _Obligation(metric, cycle, source)
        self.open.append(ob)
        self._start(ob, at, reason)

    def _start(self, ob: _Obligation, at: int, reason: str) -> None:
        policy, priority = self.policy, self.priority
        target = None if policy is None else policy.target(ob.metric, priority)
        if policy is None or target is None:
            return
        c = _Clock(ob.metric, ob.cycle, ob.incarnations, at, priority)
        c.aim(policy, target)
        ob.incarnations += 1
        ob.clock = c
        self.clocks.append(c)
        details: dict[str, Any] = {"reason": reason, **_aim_details(c), "restart": c.restarts}
        if ob.source is not None:
            details["message_id"] = ob.source
        self._emit(at, c, "activate", details)
        if self.status in policy.pause_statuses:
            c.paused, c.pause_reason = True, f"status:{self.status}"
            self._emit(at, c, "pause", {"reason": c.pause_reason})

    def _end(self, ob: _Obligation, at: int, cancel: str | None, message_id: str | None = None) -> None:
        """Fulfil (``cancel`` None) or cancel the obligation's running instance, if it has one."""
        c = ob.clock
        if c is None:
            return
        ob.clock = None
        c.ended = at
        c.fulfilled = cancel is None
        c.cancel_reason = cancel
        if c.breached is None:
            c.target_at = (self.work if c.business else _WALL).advance(at, c.target - c.measured)
        details: dict[str, Any] = {"elapsed_seconds": c.measured // SEC, "restart": c.restarts}
        if cancel is None:
            details["met"] = c.breached is None
            if message_id is not None:
                details["message_id"] = message_id
            self._emit(at, c, "fulfil", details)
        else:
            details["reason"] = cancel
            self._emit(at, c, "cancel", details)

    def _warn(self, c: _Clock, at: int) -> None:
        c.warned = at
        self._emit(at, c, "warn", {"target_seconds": c.target // SEC, "restart": c.restarts})
        for index, step in c.policy.ladder(c.metric):
            if step.kind == "warning":
                self._escalate(c, at, index, step)

    def _breach(self, c: _Clock, at: int, measured: int) -> None:
        c.breached = c.target_at = at
        details = {
            "target_seconds": c.target // SEC,
            "elapsed_seconds": measured // SEC,
            "business": c.business,
            "restart": c.restarts,
        }
        self._emit(at, c, "breach", details)
        for index, step in c.policy.ladder(c.metric):
            if step.kind == "breach" and not step.delay_seconds:
                self._escalate(c, at, index, step)

    def _escalate(self, c: _Clock, at: int, index: int, step: Escalation) -> None:
        details = {
            "step": index,
            "restart": c.restarts,
            "trigger": step.trigger,
            "actions": step.to_dict()["actions"],
            "policy_id": c.policy.id,
            "policy_version": c.policy.version,
        }
        self._emit(at, c, "escalate", details)

    def _emit(self, at: int, c: _Clock, kind: EventKind, details: dict[str, Any]) -> None:
        self.events.append((at, c.metric, c.cycle, kind, details))

    # --- results ---

    def result(self) -> Evaluation:
        if not self.exists:
            return Evaluation((), (), TicketMetrics(), None)
        now = self.now
        instances = tuple(self._snapshot(c) for c in self.clocks)
        self.events.sort(key=lambda e: e[0])
        events = tuple(
            SlaEvent(metric, cycle, kind, self._time(at), details)
            for at, metric, cycle, kind, details in self.events
        )
        due: int | None = None
        for ob in self.open:
            c = ob.clock
            if c is None:
                continue
            work = self.work if c.business else _WALL
            upcoming = []
            if not c.paused:
                if c.warned is None and c.warn_after is not None:
                    upcoming.append(work.advance(now, c.warn_after - c.measured))
                if c.breached is None:
                    upcoming.append(work.advance(now, c.target - c.measured))
            if c.breached is not None:
                for _, step in c.policy.ladder(c.metric):
                    if step.kind == "breach" and step.delay_seconds:
                        upcoming.append(c.breached + step.delay_seconds * SEC)
            for x in upcoming:
                if x > now and (due is None or x < due):
                    due = x
        return Evaluation(instances, events, self._metrics(), None if due is None else self._time(due))

    def _snapshot(self, c: _Clock) -> SlaInstance:
        running = c.ended is None
        point = self.now if c.ended is None else c.ended
        work = self.work if c.business else _WALL
        target_at = c.target_at
        warn_at = c.warned
        if running:
            if c.breached is None:
                target_at = work.advance(point, c.target - c.measured)
            if warn_at is None and c.warn_after is not None:
                warn_at = work.advance(point, c.warn_after - c.measured)
            state: InstanceState
            if c.breached is not None:
                state = "breached_active"
            else:
                state = "paused" if c.paused else "warning" if c.warned is not None else "active"
        else:
            state = "breached" if c.breached is not None else "achieved" if c.fulfilled else "cancelled"
        elapsed_business, elapsed_calendar = c.el_bus // SEC, c.el_cal // SEC
        target_seconds = c.target // SEC
        return SlaInstance(
            metric=c.metric,
            cycle=c.cycle,
            policy_id=c.policy.id,
            policy_version=c.policy.version,
            business=c.business,
            priority=c.priority,
            started_at=self._time(c.started),
            target_seconds=target_seconds,
            target_at=self._time(target_at),
            warn_at=None if warn_at is None else self._time(warn_at),
            state=state,
            paused=running and c.paused,
            pause_reason=c.pause_reason if running and c.paused else None,
            elapsed_business_seconds=elapsed_business,
            elapsed_calendar_seconds=elapsed_calendar,
            remaining_business_seconds=target_seconds
            - (elapsed_business if c.business else elapsed_calendar),
            remaining_calendar_seconds=(target_at - point) // SEC,
            paused_seconds=c.paused_us // SEC,
            completed_at=None if c.ended is None else self._time(c.ended),
            breached_at=None if c.breached is None else self._time(c.breached),
            restarts=c.restarts,
            cancel_reason=c.cancel_reason,
        )

    def _metrics(self) -> TicketMetrics:
        created, now = self.created, self.now
        end = now if self.deleted_at is None else self.deleted_at
        counts = {"agent": 0, "customer": 0, "note": 0}
        last: dict[str, int] = {}
        first_agent: int | None = None
        last_reply: str | None = None
        for at, kind, _ in self.messages:
            counts[kind] += 1
            last[kind] = at
            if kind == "agent" and first_agent is None:
                first_agent = at
            if kind != "note":
                last_reply = kind
        status_us: dict[str, int] = {}
        on_hold = 0
        for i, (start, status) in enumerate(self.statuses):
            stop = self.statuses[i + 1][0] if i + 1 < len(self.statuses) else end
            if stop <= start or not isinstance(status, str):
                continue
            status_us[status] = status_us.get(status, 0) + stop - start
            on_hold += self._held(start, stop, status)
        solved = self.deleted_at is None and self.status in SOLVED_STATUSES
        resolved_at = self.solves[-1] if solved and self.solves else None
        awaiting: Literal["agent", "customer"] | None = None
        if self.deleted_at is None and not solved:
            awaiting = "customer" if last_reply == "agent" else "agent"
        return TicketMetrics(
            first_response_at=self._time_or_none(first_agent),
            first_response_seconds_calendar=None if first_agent is None else (first_agent - created) // SEC,
            first_response_seconds_business=None
            if first_agent is None
            else self._business(created, first_agent),
            agent_replies=counts["agent"],
            customer_replies=counts["customer"],
            internal_notes=counts["note"],
            last_agent_message_at=self._time_or_none(last.get("agent")),
            last_customer_message_at=self._time_or_none(last.get("customer")),
            awaiting=awaiting,
            reopens=self.reopens,
            first_resolved_at=self._time_or_none(self.solves[0] if self.solves else None),
            resolved_at=self._time_or_none(resolved_at),
            full_resolution_seconds_calendar=None if resolved_at is None else (resolved_at - created) // SEC,
            full_resolution_seconds_business=None
            if resolved_at is None
            else self._business(created, resolved_at),
            requester_wait_seconds=sum(status_us.get(s, 0) for s in _WAITING_ON_AGENT) // SEC,
            on_hold_seconds=on_hold // SEC,
            agent_work_seconds=status_us.get("in_progress", 0) // SEC,
            status_seconds={s: us // SEC for s, us in status_us.items()},
            assignee_changes=self.assignee_changes,
            one_touch=solved and counts["agent"] == 1,
        )

    def _time(self, us: int) -> datetime:
        """µs -> aware UTC datetime; most outputs repeat input instants, so convert each value once."""
        hit = self.instants.get(us)
        if hit is None:
            hit = self.instants[us] = _EPOCH + timedelta(microseconds=us)
        return hit

    def _time_or_none(self, us: int | None) -> datetime | None:
        return None if us is None else self._time(us)

    def _spans(self, a: int, b: int) -> Iterable[tuple[int, int, int]]:
        """(era index, start, stop) pieces of [a, b) by policy era."""
        eras = self.eras
        for i, (start, _, _) in enumerate(eras):
            stop = eras[i + 1][0] if i + 1 < len(eras) else b
            lo, hi = max(a, start if i else a), min(b, stop)
            if lo < hi:
                yield i, lo, hi

    def _business(self, a: int, b: int) -> int:
        return sum(self.works[i].between(lo, hi) for i, lo, hi in self._spans(a, b)) // SEC

    def _held(self, a: int, b: int, status: str) -> int:
        total = 0
        for i, lo, hi in self._spans(a, b):
            policy = self.eras[i][1]
            if status in (_DEFAULT_PAUSE if policy is None else policy.pause_statuses):
                total += hi - lo
        return total


# --- helpers ---


def _eras(timeline: Sequence[PolicyEra], created: int, now: int) -> list[_Era]:
    """The eras that matter between creation and ``now``; the one in force at creation comes first."""
    if not timeline:
        raise ValueError("the policy timeline needs at least one era (covering the ticket's creation)")
    out: list[_Era] = []
    previous = None
    for i, era in enumerate(timeline):
        at = _us(era.effective_from, f"timeline[{i}].effective_from")
        if previous is not None and at < previous:
            raise ValueError(f"timeline[{i}] starts before the era before it; the timeline must be sorted")
        if not isinstance(era.calendar, Calendar):
            raise ValueError(f"timeline[{i}].calendar must be a Calendar")
        previous = at
        if at > now:
            break
        if out and (at <= created or out[-1][0] == at):
            out[-1] = (at, era.policy, era.calendar)  # superseded before it could matter
        else:
            out.append((at, era.policy, era.calendar))
    if not out or out[0][0] > created:
        raise ValueError("the first era of the policy timeline must start at or before the ticket's creation")
    return out


def _aim_details(c: _Clock) -> dict[str, Any]:
    return {
        "policy_id": c.policy.id,
        "policy_version": c.policy.version,
        "priority": c.priority,
        "target_seconds": c.target // SEC,
        "business": c.business,
    }


def _us(value: datetime, what: str) -> int:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return (value - _EPOCH) // _US


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


@lru_cache(maxsize=65536)
def _iso(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _json(value: Any) -> Any:
    """JSON-ready copy (hot: every stored instance and event passes here), exact types checked first."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is datetime:
        return _iso(value)
    if kind is dict or isinstance(value, Mapping):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return _iso(value)
    return value

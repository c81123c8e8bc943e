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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from weakref import WeakKeyDictionary

from deskbase.support.calendar import MAX_CLOSED_DAYS, Calendar, CalendarError
from deskbase.support.policy import SOLVED_STATUSES, Escalation, Policy, Target

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
    f = fold(facts, timeline, now)
    return Evaluation(tuple(i for _, i in f.instances), f.events, f.metrics, f.next_due)


# --- the fold as a continuation ---


class Backdated(ValueError):
    """An input sorts before the checkpoint's last one (or the timeline changed before it): replay instead."""


@dataclass(frozen=True)
class Checkpoint:
    """The fold's state right after its last input, JSON-ready, holding only what can still change.

    Open obligations and their clocks, counters, the metric accumulators, and how many instances and events
    came before: completed instances never change and earlier events are a prefix of later ones (replay =
    live), so they stay wherever the caller stored them. Its size does not grow with the ticket's history.
    """

    state: Mapping[str, Any] = field(hash=False)

    @property
    def at(self) -> datetime:
        """The instant of the last input folded: an input at or after it can continue this checkpoint."""
        return _dt(self.state["prev"])

    @property
    def instances_before(self) -> int:
        """Instances started before the checkpoint: a resumed fold reports those at or after this position."""
        return int(self.state["clocks"])


@dataclass(frozen=True)
class Fold:
    """An evaluation as a continuation of stored results.

    ``instances`` are (position, instance) for every instance this fold touched: all of them for a replay,
    for a resumed fold those open at the checkpoint or started since (the others are complete, so final).
    ``events`` are the events from position ``offset`` on. ``checkpoint`` is None while an input lies after
    ``now`` (a fold cannot stand for an input it has not reached).
    """

    instances: tuple[tuple[int, SlaInstance], ...]
    events: tuple[SlaEvent, ...]
    offset: int
    metrics: TicketMetrics
    next_due: datetime | None
    checkpoint: Checkpoint | None


def fold(facts: TicketFacts, timeline: Sequence[PolicyEra], now: datetime) -> Fold:
    """``evaluate`` with its checkpoint: the whole history replayed."""
    return _Run.replay(facts, timeline, now).result()


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
    return _Run.resumed(checkpoint, versions, messages, timeline, now).result()


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
        "pos",
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
        self.pos = 0
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
    """One evaluation: a time-ordered walk over inputs, advancing every open clock between them.

    A replay starts it at the ticket's creation; a resume restores it from a checkpoint. Either way the same
    ``_feed`` walks the inputs, so the incremental path is this fold continued, not a second rule book.
    """

    def __init__(self, timeline: Sequence[PolicyEra], now: datetime, created: int) -> None:
        self.now = _us(now, "now")
        self.created = created
        self.events: list[_Event] = []
        self.clocks: list[_Clock] = []
        self.open: list[_Obligation] = []
        self.instants: dict[int, datetime] = {}
        self.exists = created <= self.now
        if self.exists:
            self.eras = _eras(timeline, created, self.now)
            self.works = [_work(cal) for _, _, cal in self.eras]
        self.era = 0
        # the walk: where it stands, what it has consumed, what came before it
        self.prev = created
        self.last: tuple[int, int, int] = (created, -1, -1)
        self.version_at = created
        self.n_versions = self.n_messages = self.offset = self.n_clocks = 0
        self.future = False
        self.snapshot: dict[str, Any] | None = None
        # the ticket
        self.status: Any = None
        self.priority: Any = None
        self.assignee: Any = None
        self.solved = False
        self.deleted_at: int | None = None
        self.counts = {"next_response": 0, "periodic_update": 0}
        self.agent_seen = False
        # metric accumulators (business µs since creation on the era calendars, status time, messages)
        self.reopens = self.assignee_changes = 0
        self.first_solve: int | None = None
        self.last_solve: int | None = None
        self.biz = self.resolved_biz = self.first_agent_biz = 0
        self.seg = self.hold_from = created
        self.status_us: dict[str, int] = {}
        self.on_hold = 0
        self.said = {"agent": 0, "customer": 0, "note": 0}
        self.last_said: dict[str, int] = {}
        self.first_agent: int | None = None
        self.last_reply: str | None = None

    @classmethod
    def replay(cls, facts: TicketFacts, timeline: Sequence[PolicyEra], now: datetime) -> "_Run":
        versions = facts.versions
        if not versions:
            raise ValueError("a ticket has at least one version (its creation)")
        run = cls(timeline, now, _us(versions[0].at, "versions[0].at"))
        if run.exists:
            run._create(versions[0])
            run._feed(versions[1:], facts.messages, 1, 0, resuming=False)
        return run

    @classmethod
    def resumed(
        cls,
        checkpoint: Checkpoint,
        versions: Sequence[TicketVersion],
        messages: Sequence[Message],
        timeline: Sequence[PolicyEra],
        now: datetime,
    ) -> "_Run":
        s = checkpoint.state
        run = cls(timeline, now, s["created"])
        if run.now < s["prev"]:
            raise Backdated("now is before the checkpoint")
        run._restore(s)
        run._feed(versions, messages, s["versions"], s["messages"], resuming=True)
        return run

    # --- the walk ---

    def _create(self, first: TicketVersion) -> None:
        created = self.created
        _, self.policy, self.calendar = self.eras[0]
        self.work = self.works[0]
        data = first.data
        self.status, self.priority, self.assignee = (
            data.get("status"),
            data.get("priority"),
            data.get("assignee"),
        )
        self.solved = self.status in SOLVED_STATUSES
        self.n_versions = 1
        if first.deleted:
            self.deleted_at = created
        elif not self.solved:
            for metric in ("first_response", "first_resolution", "resolution"):
                self._open(metric, 1, None, created, "created")

    def _feed(
        self, versions: Sequence[TicketVersion], messages: Sequence[Message], v0: int, m0: int, resuming: bool
    ) -> None:
        """Walk new inputs in (instant, phase, ordinal) order; the checkpoint is taken after the last of them
        (eras after it are left to the tail, so an input between them and it can still continue it)."""
        now, created = self.now, self.created
        items: list[tuple[int, int, int, Any]] = [
            (at, 0, i, None) for i, (at, _, _) in enumerate(self.eras) if i > self.era
        ]
        status, priority = self.status, self.priority
        ended = self.deleted_at is not None
        end = now if self.deleted_at is None else self.deleted_at
        for j, v in enumerate(versions):
            if ended:
                break
            i = v0 + j
            at = _us(v.at, f"versions[{i}].at")
            if v.at.tzinfo is UTC:
                self.instants[at] = v.at
            if at < self.version_at:
                raise ValueError(f"versions[{i}] is older than the version before it")
            self.version_at = at
            if at > now:
                self.future = True
                break
            data = v.data
            if v.deleted:
                items.append((at, 2, i, v))
                end, ended = at, True
                break
            if data.get("assignee") != self.assignee:
                self.assignee_changes += 1
                self.assignee = data.get("assignee")
            if data.get("status") != status or data.get("priority") != priority:
                status, priority = data.get("status"), data.get("priority")
                items.append((at, 2, i, v))
        self.n_versions = v0 + len(versions)
        for j, m in enumerate(messages):
            if m.removed_at is not None:
                continue
            i = m0 + j
            at = _us(m.at, f"messages[{i}].at")
            if at > end:
                self.future = self.future or not ended
                continue
            if at < created:
                at = created
            elif m.at.tzinfo is UTC:
                self.instants[at] = m.at
            kind = m.kind
            if kind == "agent":
                items.append((at, 1, i, m))
            elif kind not in ("customer", "note"):
                raise ValueError(f"messages[{i}].kind must be 'customer', 'agent' or 'note', got {kind!r}")
            items.append((at, 3, i, m))
        self.n_messages = m0 + len(messages)
        items.sort(key=lambda item: (item[0], item[1], item[2]))
        cut = max((n for n, item in enumerate(items) if item[1]), default=-1)
        if resuming and cut >= 0 and min(item[:3] for item in items if item[1]) <= self.last:
            raise Backdated("an input sorts before the checkpoint's last input")
        if cut < 0:
            self.snapshot = self._state()
        for n, (at, phase, i, obj) in enumerate(items):
            if self.deleted_at is not None:
                if phase == 3:
                    self._said(at, obj)  # a message at the deletion instant still counts in the metrics
            else:
                if at > self.prev:
                    self._advance(self.prev, at, inclusive=False)
                    self.prev = at
                if phase == 0:
                    self._enter_era(at)
                elif phase == 1:
                    self._agent_replied(at, obj)
                elif phase == 2:
                    self._version(at, obj)
                else:
                    self._said(at, obj)
                    self._message(at, obj)
            if phase:
                self.last = (at, phase, i)
            if n == cut:
                self.snapshot = self._state()
        if self.deleted_at is None:
            self._advance(self.prev, now, inclusive=True)

    def _message(self, at: int, m: Message) -> None:
        if m.kind == "customer":
            if not self.solved and self.agent_seen:
                self.counts["next_response"] += 1
                self._open("next_response", self.counts["next_response"], m.id, at, "customer_message")
        elif m.kind == "agent" and not self.solved:
            self.counts["periodic_update"] += 1
            self._open("periodic_update", self.counts["periodic_update"], m.id, at, "agent_message")

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

    # --- the checkpoint ---

    def _state(self) -> dict[str, Any]:
        opened = []
        for ob in self.open:
            c = ob.clock
            clock = None
            if c is not None:
                clock = {
                    "pos": c.pos,
                    "restarts": c.restarts,
                    "started": c.started,
                    "priority": c.priority,
                    "el_bus": c.el_bus,
                    "el_cal": c.el_cal,
                    "paused_us": c.paused_us,
                    "paused": c.paused,
                    "pause_reason": c.pause_reason,
                    "warned": c.warned,
                    "breached": c.breached,
                    "target_at": c.target_at,
                    "policy": [c.policy.id, c.policy.version],
                    "target": c.target,
                    "business": c.business,
                    "warn_after": c.warn_after,
                }
            opened.append(
                {
                    "metric": ob.metric,
                    "cycle": ob.cycle,
                    "source": ob.source,
                    "incarnations": ob.incarnations,
                    "clock": clock,
                }
            )
        return {
            "created": self.created,
            "prev": self.prev,
            "last": list(self.last),
            "era_from": self.eras[self.era][0],
            "versions": self.n_versions,
            "messages": self.n_messages,
            "version_at": self.version_at,
            "events": self.offset + len(self.events),
            "clocks": self.n_clocks,
            "status": self.status,
            "priority": self.priority,
            "assignee": self.assignee,
            "solved": self.solved,
            "deleted_at": self.deleted_at,
            "counts": dict(self.counts),
            "agent_seen": self.agent_seen,
            "reopens": self.reopens,
            "assignee_changes": self.assignee_changes,
            "first_solve": self.first_solve,
            "last_solve": self.last_solve,
            "biz": self.biz,
            "resolved_biz": self.resolved_biz,
            "first_agent_biz": self.first_agent_biz,
            "seg": self.seg,
            "hold_from": self.hold_from,
            "status_us": dict(self.status_us),
            "on_hold": self.on_hold,
            "said": dict(self.said),
            "last_said": dict(self.last_said),
            "first_agent": self.first_agent,
            "last_reply": self.last_reply,
            "open": opened,
        }

    def _restore(self, s: Mapping[str, Any]) -> None:
        prev = s["prev"]
        self.era = max(i for i, (at, _, _) in enumerate(self.eras) if at <= prev)
        if self.eras[self.era][0] != s["era_from"]:
            raise Backdated("the timeline changed before the checkpoint")
        _, self.policy, self.calendar = self.eras[self.era]
        self.work = self.works[self.era]
        self.prev, self.last = prev, (s["last"][0], s["last"][1], s["last"][2])
        self.version_at, self.offset, self.n_clocks = s["version_at"], s["events"], s["clocks"]
        self.status, self.priority, self.assignee = s["status"], s["priority"], s["assignee"]
        self.solved, self.deleted_at, self.agent_seen = s["solved"], s["deleted_at"], s["agent_seen"]
        self.counts = dict(s["counts"])
        self.reopens, self.assignee_changes = s["reopens"], s["assignee_changes"]
        self.first_solve, self.last_solve = s["first_solve"], s["last_solve"]
        self.biz, self.resolved_biz, self.first_agent_biz = s["biz"], s["resolved_biz"], s["first_agent_biz"]
        self.seg, self.hold_from = s["seg"], s["hold_from"]
        self.status_us, self.on_hold = dict(s["status_us"]), s["on_hold"]
        self.said, self.last_said = dict(s["said"]), dict(s["last_said"])
        self.first_agent, self.last_reply = s["first_agent"], s["last_reply"]
        for o in s["open"]:
            ob = _Obligation(o["metric"], o["cycle"], o["source"])
            ob.incarnations = o["incarnations"]
            k = o["clock"]
            if k is not None:
                policy = self.policy
                if policy is None or [policy.id, policy.version] != list(k["policy"]):
                    raise Backdated("the policy in force at the checkpoint changed")
                c = _Clock(ob.metric, ob.cycle, k["restarts"], k["started"], k["priority"])
                c.pos, c.policy = k["pos"], policy
                c.el_bus, c.el_cal, c.paused_us = k["el_bus"], k["el_cal"], k["paused_us"]
                c.paused, c.pause_reason = k["paused"], k["pause_reason"]
                c.warned, c.breached, c.target_at = k["warned"], k["breached"], k["target_at"]
                c.target, c.business, c.warn_after = k["target"], k["business"], k["warn_after"]
                ob.clock = c
                self.clocks.append(c)
            self.open.append(ob)

    def _advance(self, a: int, b: int, *, inclusive: bool) -> None:
        """Run every open clock over [a, b) (or [a, b] at the end), firing what falls due in between."""
        span = b - a
        business = self.work.between(a, b)
        self.biz += business  # the metrics' business durations since creation are sums of these segments
        for ob in self.open:
            c = ob.clock
            if c is None:
                continue
            ran = 0 if c.paused else business if c.business else span
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
        self._hold(at)
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
            if at > self.seg and isinstance(self.status, str):
                self.status_us[self.status] = self.status_us.get(self.status, 0) + at - self.seg
            self._hold(at)
            self.status, self.seg = status, at
            solved = status in SOLVED_STATUSES
            if solved and not self.solved:
                self.first_solve = at if self.first_solve is None else self.first_solve
                self.last_solve, self.resolved_biz = at, self.biz
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
        c.pos = self.n_clocks
        self.n_clocks += 1
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

    def result(self) -> Fold:
        if not self.exists:
            return Fold((), (), 0, TicketMetrics(), None, None)
        now = self.now
        instances = tuple((c.pos, self._snapshot(c)) for c in self.clocks)
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
        checkpoint = None if self.future or self.snapshot is None else Checkpoint(self.snapshot)
        return Fold(
            instances,
            events,
            self.offset,
            self._metrics(),
            None if due is None else self._time(due),
            checkpoint,
        )

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

    def _time(self, us: int) -> datetime:
        """µs -> aware UTC datetime; most outputs repeat input instants, so convert each value once."""
        hit = self.instants.get(us)
        if hit is None:
            hit = self.instants[us] = _EPOCH + timedelta(microseconds=us)
        return hit

    def _time_or_none(self, us: int | None) -> datetime | None:
        return None if us is None else self._time(us)


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

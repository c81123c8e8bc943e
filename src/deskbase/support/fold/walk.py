"""The walk: one evaluation as a time-ordered pass over the ticket's inputs, driving clocks and measures (pure)."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from deskbase.support.calendar import Calendar
from deskbase.support.fold.checkpoint import Backdated, Checkpoint, Fold, capture, restore
from deskbase.support.fold.clocks import Clock, Clocks, Obligation, RawEvent, aim_details
from deskbase.support.fold.inputs import Message, PolicyEra, TicketFacts, TicketVersion
from deskbase.support.fold.measures import Measures
from deskbase.support.fold.open_time import SEC, micros, work_on
from deskbase.support.fold.outputs import SlaEvent, TicketMetrics
from deskbase.support.policy import SOLVED_STATUSES, Policy

_RESPONSES = ("first_response", "next_response", "periodic_update")
Era = tuple[int, Policy | None, Calendar]


class Run(Clocks, Measures):
    """One evaluation: a time-ordered walk over inputs, advancing every open clock between them.

    A replay starts it at the ticket's creation; a resume restores it from a checkpoint. Either way the same
    ``_feed`` walks the inputs, so the incremental path is this fold continued, not a second rule book.
    """

    calendar: Calendar

    def __init__(self, timeline: Sequence[PolicyEra], now: datetime, created: int) -> None:
        self.now = micros(now, "now")
        self.created = created
        self.events: list[RawEvent] = []
        self.clocks: list[Clock] = []
        self.open: list[Obligation] = []
        self.instants: dict[int, datetime] = {}
        self.exists = created <= self.now
        if self.exists:
            self.eras = _eras(timeline, created, self.now)
            self.works = [work_on(cal) for _, _, cal in self.eras]
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
    def replay(cls, facts: TicketFacts, timeline: Sequence[PolicyEra], now: datetime) -> "Run":
        versions = facts.versions
        if not versions:
            raise ValueError("a ticket has at least one version (its creation)")
        run = cls(timeline, now, micros(versions[0].at, "versions[0].at"))
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
    ) -> "Run":
        s = checkpoint.state
        run = cls(timeline, now, s["created"])
        if run.now < s["prev"]:
            raise Backdated("now is before the checkpoint")
        restore(run, s)
        run._feed(versions, messages, s["versions"], s["messages"], resuming=True)
        return run

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
            at = micros(v.at, f"versions[{i}].at")
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
            at = micros(m.at, f"messages[{i}].at")
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
            self.snapshot = capture(self)
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
                self.snapshot = capture(self)
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
            previous = aim_details(c)
            c.aim(policy, target)
            reason = "calendar_change" if same_policy else "policy_change"
            self._emit(at, c, "recompute", {"reason": reason, "previous": previous, **aim_details(c)})
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

    def result(self) -> Fold:
        if not self.exists:
            return Fold((), (), 0, TicketMetrics(), None, None)
        instances = tuple((c.pos, self._snapshot(c)) for c in self.clocks)
        self.events.sort(key=lambda e: e[0])
        events = tuple(
            SlaEvent(metric, cycle, kind, self._time(at), details)
            for at, metric, cycle, kind, details in self.events
        )
        due = self._next_due()
        checkpoint = None if self.future or self.snapshot is None else Checkpoint(self.snapshot)
        return Fold(
            instances,
            events,
            self.offset,
            self._metrics(),
            None if due is None else self._time(due),
            checkpoint,
        )


def _eras(timeline: Sequence[PolicyEra], created: int, now: int) -> list[Era]:
    """The eras that matter between creation and ``now``; the one in force at creation comes first."""
    if not timeline:
        raise ValueError("the policy timeline needs at least one era (covering the ticket's creation)")
    out: list[Era] = []
    previous = None
    for i, era in enumerate(timeline):
        at = micros(era.effective_from, f"timeline[{i}].effective_from")
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

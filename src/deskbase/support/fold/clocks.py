"""SLA clocks during the walk: each obligation's running instance, its thresholds and the events it emits (pure)."""

from typing import Any

from deskbase.support.fold.open_time import MICRO, SEC, WALL, Instants, Wall, Work
from deskbase.support.fold.outputs import EventKind, InstanceState, SlaInstance
from deskbase.support.policy import Escalation, Policy, Target

RawEvent = tuple[int, str, int, EventKind, dict[str, Any]]


class Clock:
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
        self.warn_after = None if warn is None else warn // MICRO

    @property
    def measured(self) -> int:
        return self.el_bus if self.business else self.el_cal


class Obligation:
    __slots__ = ("clock", "cycle", "incarnations", "metric", "source")

    def __init__(self, metric: str, cycle: int, source: str | None) -> None:
        self.metric = metric
        self.cycle = cycle
        self.source = source
        self.clock: Clock | None = None
        self.incarnations = 0


def aim_details(c: Clock) -> dict[str, Any]:
    return {
        "policy_id": c.policy.id,
        "policy_version": c.policy.version,
        "priority": c.priority,
        "target_seconds": c.target // SEC,
        "business": c.business,
    }


class Clocks(Instants):
    """The open obligations and the instances measuring them: start, run, fire, end (a part of the walk).

    Reads the walk's current era (``policy``, ``work``) and ticket (``status``, ``priority``); emits raw events.
    """

    now: int
    policy: Policy | None
    work: Work | Wall
    status: Any
    priority: Any
    open: list[Obligation]
    clocks: list[Clock]
    events: list[RawEvent]
    n_clocks: int
    biz: int

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

    def _due(self, c: Clock, a: int, b: int, inclusive: bool, ran: int, *, delayed: bool = True) -> None:
        """Fire c's warning, breach and (with ``delayed``) breach+N escalations falling in the segment from ``a``.

        ``ran`` is how far c's own clock moves in the segment (0 while paused): a threshold already reached
        fires at ``a`` (after the inputs at ``a``), one reached inside the segment at its exact instant.
        The immediate check after a target change passes ``delayed=False``: the segment that follows starts
        at the same instant and owns the breach+N steps, so none fires twice.
        """
        m = c.measured
        work = self.work if c.business else WALL
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
            previous = aim_details(c)
            c.priority = priority
            c.aim(policy, target)
            self._emit(
                at, c, "recompute", {"reason": "priority_change", "previous": previous, **aim_details(c)}
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

    def _open(self, metric: str, cycle: int, source: str | None, at: int, reason: str) -> None:
        ob = Obligation(metric, cycle, source)
        self.open.append(ob)
        self._start(ob, at, reason)

    def _start(self, ob: Obligation, at: int, reason: str) -> None:
        policy, priority = self.policy, self.priority
        target = None if policy is None else policy.target(ob.metric, priority)
        if policy is None or target is None:
            return
        c = Clock(ob.metric, ob.cycle, ob.incarnations, at, priority)
        c.pos = self.n_clocks
        self.n_clocks += 1
        c.aim(policy, target)
        ob.incarnations += 1
        ob.clock = c
        self.clocks.append(c)
        details: dict[str, Any] = {"reason": reason, **aim_details(c), "restart": c.restarts}
        if ob.source is not None:
            details["message_id"] = ob.source
        self._emit(at, c, "activate", details)
        if self.status in policy.pause_statuses:
            c.paused, c.pause_reason = True, f"status:{self.status}"
            self._emit(at, c, "pause", {"reason": c.pause_reason})

    def _end(self, ob: Obligation, at: int, cancel: str | None, message_id: str | None = None) -> None:
        """Fulfil (``cancel`` None) or cancel the obligation's running instance, if it has one."""
        c = ob.clock
        if c is None:
            return
        ob.clock = None
        c.ended = at
        c.fulfilled = cancel is None
        c.cancel_reason = cancel
        if c.breached is None:
            c.target_at = (self.work if c.business else WALL).advance(at, c.target - c.measured)
        details: dict[str, Any] = {"elapsed_seconds": c.measured // SEC, "restart": c.restarts}
        if cancel is None:
            details["met"] = c.breached is None
            if message_id is not None:
                details["message_id"] = message_id
            self._emit(at, c, "fulfil", details)
        else:
            details["reason"] = cancel
            self._emit(at, c, "cancel", details)

    def _warn(self, c: Clock, at: int) -> None:
        c.warned = at
        self._emit(at, c, "warn", {"target_seconds": c.target // SEC, "restart": c.restarts})
        for index, step in c.policy.ladder(c.metric):
            if step.kind == "warning":
                self._escalate(c, at, index, step)

    def _breach(self, c: Clock, at: int, measured: int) -> None:
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

    def _escalate(self, c: Clock, at: int, index: int, step: Escalation) -> None:
        details = {
            "step": index,
            "restart": c.restarts,
            "trigger": step.trigger,
            "actions": step.to_dict()["actions"],
            "policy_id": c.policy.id,
            "policy_version": c.policy.version,
        }
        self._emit(at, c, "escalate", details)

    def _emit(self, at: int, c: Clock, kind: EventKind, details: dict[str, Any]) -> None:
        self.events.append((at, c.metric, c.cycle, kind, details))

    def _snapshot(self, c: Clock) -> SlaInstance:
        running = c.ended is None
        point = self.now if c.ended is None else c.ended
        work = self.work if c.business else WALL
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

    def _next_due(self) -> int | None:
        """The earliest instant after ``now`` at which an open instance warns, breaches or escalates."""
        now = self.now
        due: int | None = None
        for ob in self.open:
            c = ob.clock
            if c is None:
                continue
            work = self.work if c.business else WALL
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
        return due

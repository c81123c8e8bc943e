"""The fold as a continuation: the checkpoint a write stores, and what a resumed fold returns (pure)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from deskbase.support.fold.clocks import Clock, Obligation
from deskbase.support.fold.open_time import from_micros
from deskbase.support.fold.outputs import SlaEvent, SlaInstance, TicketMetrics

if TYPE_CHECKING:
    from deskbase.support.fold.walk import Run


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
        return from_micros(self.state["prev"])

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


def capture(run: "Run") -> dict[str, Any]:
    """The walk's state as JSON-ready data: open obligations and clocks, the ticket, the accumulators."""
    opened = []
    for ob in run.open:
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
        "created": run.created,
        "prev": run.prev,
        "last": list(run.last),
        "era_from": run.eras[run.era][0],
        "versions": run.n_versions,
        "messages": run.n_messages,
        "version_at": run.version_at,
        "events": run.offset + len(run.events),
        "clocks": run.n_clocks,
        "status": run.status,
        "priority": run.priority,
        "assignee": run.assignee,
        "solved": run.solved,
        "deleted_at": run.deleted_at,
        "counts": dict(run.counts),
        "agent_seen": run.agent_seen,
        "reopens": run.reopens,
        "assignee_changes": run.assignee_changes,
        "first_solve": run.first_solve,
        "last_solve": run.last_solve,
        "biz": run.biz,
        "resolved_biz": run.resolved_biz,
        "first_agent_biz": run.first_agent_biz,
        "seg": run.seg,
        "hold_from": run.hold_from,
        "status_us": dict(run.status_us),
        "on_hold": run.on_hold,
        "said": dict(run.said),
        "last_said": dict(run.last_said),
        "first_agent": run.first_agent,
        "last_reply": run.last_reply,
        "open": opened,
    }


def restore(run: "Run", s: Mapping[str, Any]) -> None:
    """Put a captured state back into a fresh walk; Backdated when its era or policy is not the one in force."""
    prev = s["prev"]
    run.era = max(i for i, (at, _, _) in enumerate(run.eras) if at <= prev)
    if run.eras[run.era][0] != s["era_from"]:
        raise Backdated("the timeline changed before the checkpoint")
    _, run.policy, run.calendar = run.eras[run.era]
    run.work = run.works[run.era]
    run.prev, run.last = prev, (s["last"][0], s["last"][1], s["last"][2])
    run.version_at, run.offset, run.n_clocks = s["version_at"], s["events"], s["clocks"]
    run.status, run.priority, run.assignee = s["status"], s["priority"], s["assignee"]
    run.solved, run.deleted_at, run.agent_seen = s["solved"], s["deleted_at"], s["agent_seen"]
    run.counts = dict(s["counts"])
    run.reopens, run.assignee_changes = s["reopens"], s["assignee_changes"]
    run.first_solve, run.last_solve = s["first_solve"], s["last_solve"]
    run.biz, run.resolved_biz, run.first_agent_biz = s["biz"], s["resolved_biz"], s["first_agent_biz"]
    run.seg, run.hold_from = s["seg"], s["hold_from"]
    run.status_us, run.on_hold = dict(s["status_us"]), s["on_hold"]
    run.said, run.last_said = dict(s["said"]), dict(s["last_said"])
    run.first_agent, run.last_reply = s["first_agent"], s["last_reply"]
    for o in s["open"]:
        ob = Obligation(o["metric"], o["cycle"], o["source"])
        ob.incarnations = o["incarnations"]
        k = o["clock"]
        if k is not None:
            policy = run.policy
            if policy is None or [policy.id, policy.version] != list(k["policy"]):
                raise Backdated("the policy in force at the checkpoint changed")
            c = Clock(ob.metric, ob.cycle, k["restarts"], k["started"], k["priority"])
            c.pos, c.policy = k["pos"], policy
            c.el_bus, c.el_cal, c.paused_us = k["el_bus"], k["el_cal"], k["paused_us"]
            c.paused, c.pause_reason = k["paused"], k["pause_reason"]
            c.warned, c.breached, c.target_at = k["warned"], k["breached"], k["target_at"]
            c.target, c.business, c.warn_after = k["target"], k["business"], k["warn_after"]
            ob.clock = c
            run.clocks.append(c)
        run.open.append(ob)

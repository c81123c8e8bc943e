"""The incremental fold: a checkpoint continued with the inputs after it equals replaying the whole history.

Stories come from test_evaluate (pauses, reopens, priority changes, policy and calendar eras on a Madrid office
calendar across the March DST change). Each story arrives as a sequence of writes; after every write the
stored state (completed instances kept, the checkpoint's open ones and later ones replaced, events after the
checkpoint's offset replaced) must equal a full replay at that instant, to the microsecond.
"""

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deskbase.support.evaluate import (
    Backdated,
    Checkpoint,
    Fold,
    Message,
    PolicyEra,
    SlaEvent,
    SlaInstance,
    TicketFacts,
    TicketVersion,
    evaluate,
    fold,
    resume,
)
from tests.support.test_evaluate import (
    LONG_AGO,
    OFFICE,
    PROPERTY,
    STANDARD,
    Story,
    at,
    stories,
    story,
)


@dataclass
class Store:
    """What the service keeps of a ticket: instances by position, events in order, and the checkpoint."""

    instances: dict[int, SlaInstance] = field(default_factory=dict)
    events: list[SlaEvent] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    resumed: int = 0

    def apply(self, f: Fold, before: int) -> None:
        keep = {p: i for p, i in self.instances.items() if p < before}
        self.instances = keep | dict(f.instances)
        self.events = self.events[: f.offset] + list(f.events)
        # Through JSON, as the service stores it.
        self.checkpoint = (
            None if f.checkpoint is None else Checkpoint(json.loads(json.dumps(f.checkpoint.state)))
        )

    def write(
        self, facts: TicketFacts, new: tuple[list[TicketVersion], list[Message]], timeline, now: datetime
    ) -> Fold:
        if self.checkpoint is not None:
            try:
                f = resume(self.checkpoint, new[0], new[1], timeline, now)
            except Backdated:
                pass
            else:
                self.resumed += 1
                self.apply(f, self.checkpoint.instances_before)
                return f
        f = fold(facts, timeline, now)
        self.apply(f, 0)
        return f


def assert_same(store: Store, f: Fold, facts: TicketFacts, timeline: list[PolicyEra], now: datetime) -> None:
    full = evaluate(facts, timeline, now)
    assert [store.instances[p] for p in sorted(store.instances)] == list(full.instances)
    assert store.events == list(full.events)
    assert f.metrics == full.metrics
    assert f.next_due == full.next_due


@st.composite
def arrivals(draw: st.DrawFn, s: Story) -> list[tuple[int, int, datetime]]:
    """Writes as (versions so far, messages so far, now): inputs in time order, a few per write, each
    evaluated at or after its instant (sometimes a little before: a message stamped in the future)."""
    versions, messages = s.facts.versions, s.facts.messages
    order = sorted(
        [(v.at, 0, n) for n, v in enumerate(versions[1:], 1)] + [(m.at, 1, n) for n, m in enumerate(messages)]
    )
    out: list[tuple[int, int, datetime]] = []
    nv, nm = 1, 0
    now = versions[0].at
    i = 0
    while i < len(order):
        take = draw(st.integers(1, 3))
        for when, kind, _ in order[i : i + take]:
            nv, nm = (nv + 1, nm) if kind == 0 else (nv, nm + 1)
            latest = when
        i += take
        delta = draw(st.sampled_from((0, 0, 0, 1, 600_000, 3 * 86_400_000, -300_000)))
        now = max(now, latest + timedelta(milliseconds=delta))
        out.append((nv, nm, now))
    out.append((nv, nm, max(now, s.end)))
    return out


def distinct(timeline: list[PolicyEra]) -> list[PolicyEra]:
    """The stories reuse (id, version) for different policies; a stored policy version never changes, and the
    fold identifies policies by (id, version), so give each distinct policy its own version."""
    seen: list[object] = []
    out = []
    for era in timeline:
        p = era.policy
        if p is not None:
            if p not in seen:
                seen.append(p)
            p = replace(p, version=seen.index(p) + 1)
        out.append(PolicyEra(era.effective_from, p, era.calendar))
    return out


def prefix(facts: TicketFacts, nv: int, nm: int) -> TicketFacts:
    return TicketFacts(facts.ticket_id, facts.versions[:nv], facts.messages[:nm], facts.customer)


@PROPERTY
@given(st.data(), stories())
def test_incremental_equals_replay_after_every_write(data: st.DataObject, s: Story) -> None:
    s = replace(s, timeline=distinct(s.timeline))
    store = Store()
    first = prefix(s.facts, 1, 0)
    f = store.write(first, ([], []), s.timeline, first.versions[0].at)
    assert_same(store, f, first, s.timeline, first.versions[0].at)
    nv, nm = 1, 0
    for v2, m2, now in data.draw(arrivals(s)):
        facts = prefix(s.facts, v2, m2)
        new = (list(s.facts.versions[nv:v2]), list(s.facts.messages[nm:m2]))
        f = store.write(facts, new, s.timeline, now)
        assert_same(store, f, facts, s.timeline, now)
        nv, nm = v2, m2


def test_a_ticket_in_time_order_never_needs_a_replay() -> None:
    """Pause, reopen, priority change, an era change: every write continues the checkpoint."""
    lines = (
        "2026-03-02 09:00 create high",
        "2026-03-02 10:00 agent",
        "2026-03-02 11:00 status waiting",
        "2026-03-03 09:30 customer",
        "2026-03-03 09:31 status open",
        "2026-03-03 12:00 priority urgent",
        "2026-03-04 10:00 agent",
        "2026-03-04 10:05 status resolved",
        "2026-03-05 10:00 customer",
        "2026-03-05 10:01 status open",
        "2026-03-30 10:00 note",
        "2026-03-30 11:00 agent",
    )
    whole = story(*lines)
    timeline = [PolicyEra(LONG_AGO, STANDARD, OFFICE), PolicyEra(at("2026-03-04 12:00"), None, OFFICE)]
    timeline.append(PolicyEra(at("2026-03-05 09:00"), STANDARD, OFFICE))
    store = Store()
    nv = nm = 0
    for n in range(1, len(lines) + 1):
        facts = story(*lines[:n])
        v2, m2 = len(facts.versions), len(facts.messages)
        new = (list(facts.versions[nv:v2] if nv else []), list(facts.messages[nm:m2]))
        now = max([v.at for v in facts.versions] + [m.at for m in facts.messages]) + timedelta(minutes=1)
        f = store.write(facts if nv else prefix(facts, 1, 0), new, timeline, now)
        assert_same(store, f, facts, timeline, now)
        nv, nm = v2, m2
    assert store.resumed == len(lines) - 1
    assert whole.messages == facts.messages


@pytest.mark.parametrize(
    ("late", "reason"),
    [
        ("2026-03-02 09:30 agent", "an input before the checkpoint's last one"),
        ("2026-03-02 10:00 agent", "an agent reply at the same instant answers before the version there"),
    ],
)
def test_a_backdated_input_asks_for_a_replay(late: str, reason: str) -> None:
    facts = story("2026-03-02 09:00 create high", "2026-03-02 10:00 status in_progress")
    now = at("2026-03-02 12:00")
    cp = fold(facts, [PolicyEra(LONG_AGO, STANDARD, OFFICE)], now).checkpoint
    assert cp is not None
    day, clock, _ = late.split()
    with pytest.raises(Backdated):
        resume(
            cp,
            [],
            [Message("m9", at(f"{day} {clock}"), "agent")],
            [PolicyEra(LONG_AGO, STANDARD, OFFICE)],
            now,
        )


def test_a_message_stamped_after_now_leaves_no_checkpoint() -> None:
    """Until its instant comes, the fold cannot stand for it: the next write replays."""
    facts = story("2026-03-02 09:00 create high", "2026-03-02 15:00 agent")
    assert fold(facts, [PolicyEra(LONG_AGO, STANDARD, OFFICE)], at("2026-03-02 12:00")).checkpoint is None
    assert fold(facts, [PolicyEra(LONG_AGO, STANDARD, OFFICE)], at("2026-03-02 15:00")).checkpoint is not None


def test_a_changed_timeline_before_the_checkpoint_asks_for_a_replay() -> None:
    facts = story("2026-03-02 09:00 create high", "2026-03-02 10:00 status in_progress")
    cp = fold(facts, [PolicyEra(LONG_AGO, STANDARD, OFFICE)], at("2026-03-02 12:00")).checkpoint
    assert cp is not None
    changed = [PolicyEra(LONG_AGO, STANDARD, OFFICE), PolicyEra(at("2026-03-02 09:30"), None, OFFICE)]
    with pytest.raises(Backdated):
        resume(cp, [], [], changed, at("2026-03-02 13:00"))

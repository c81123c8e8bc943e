"""The SLA scheduler thread sleeps until the earliest due instant: a write wakes it only when it stores a sooner
one, so a busy store does not run scheduler queries on every commit, and a breach is still recorded at once."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.support import tables as ts
from deskbase.support.service import SlaService


@pytest.fixture
def scheduler(core: Deskbase, ws: str) -> Any:
    sched = core.extensions[SlaService].scheduler
    sched.poll_seconds = 30.0  # without a wake the scheduler would sleep far longer than these tests wait
    calls = {"n": 0}
    run_due = sched.run_due

    def counted(*args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        return int(run_due(*args, **kwargs))

    sched.run_due = counted
    sched.start()
    deadline = time.monotonic() + 10
    while sched._sleep_until is None and time.monotonic() < deadline:  # asleep after its first turn
        time.sleep(0.01)
    yield calls
    sched.stop()


def test_writes_with_later_due_instants_do_not_wake_the_scheduler(
    core: Deskbase, ws: str, scheduler: Any
) -> None:
    before = scheduler["n"]
    for n in range(40):
        core.records.create(
            ws, "tickets", {"data": {"subject": f"t{n}", "status": "open", "priority": "high"}}, SYSTEM
        )
    time.sleep(0.3)
    assert scheduler["n"] - before == 0


def test_a_write_that_stores_a_sooner_due_instant_wakes_the_scheduler_at_once(
    core: Deskbase, ws: str, clock: FixedClock, scheduler: Any
) -> None:
    """A policy change makes every running clock due now (to re-base it): the scheduler must run without
    waiting out its sleep."""
    core.records.create(
        ws, "tickets", {"data": {"subject": "VPN down", "status": "open", "priority": "high"}}, SYSTEM
    )
    time.sleep(0.2)
    before = scheduler["n"]
    sla = core.extensions[SlaService]
    definition = dict(sla.config.get(ws, "policy", "default").definition or {})
    definition["targets"] = {**definition["targets"], "first_response": {"high": {"seconds": 600}}}
    sla.config.put(ws, "policy", "default", definition, SYSTEM)
    st = ts.sla_tickets
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and scheduler["n"] == before:
        time.sleep(0.02)
    assert scheduler["n"] > before, "the scheduler slept through a write that made a ticket due"

    def settled() -> bool:
        with core.db.read() as conn:
            due = conn.execute(select(st.c.next_due).where(st.c.workspace_id == ws)).scalars().all()
        return all(d is None or d > clock.now() for d in due)

    deadline = time.monotonic() + 10  # its step may still be running on a busy machine
    while time.monotonic() < deadline and not settled():
        time.sleep(0.02)
    assert settled(), "the due tickets were not re-evaluated"

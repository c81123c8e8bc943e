"""Adaptive lanes per trigger: an endpoint with a backlog gets more requests in flight while more pay (never
above `webhook_max_inflight_per_trigger`); a slow or failing one is cut back to one."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from deskbase.core.clock import FixedClock
from deskbase.events import lanes
from deskbase.events.dispatcher import DUE_LIMIT
from deskbase.events.lanes import Window
from deskbase.events.service import Webhooks
from tests.conftest import Api
from tests.events.conftest import hooks_api
from tests.events.receiver import Received, Receiver
from tests.events.test_delivery import deliveries, ticket, trigger, until


class Counting:
    """A reply that counts requests in flight (and what each arrival saw), waits while `gate` is shut, and
    sleeps `delay` seconds before answering `status`."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status, self.delay = status, delay
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()
        self.in_flight = self.most = self.answered = 0
        self.seen: list[tuple[int, int]] = []  #: per arrival: (answers finished before it, in flight with it)

    def __call__(self, _r: Received) -> Any:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.seen.append((self.answered, self.in_flight))
        self.gate.wait()
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
            self.answered += 1
        return (self.status, {})


def window(api: Api, tid: str) -> Window:
    return api.core.extensions[Webhooks].dispatcher.lanes.window(f"acme/{tid}")  # type: ignore[attr-defined,no-any-return]


def test_an_endpoint_with_a_backlog_gets_more_lanes_up_to_the_cap(
    tmp_path: Path, live_clock: FixedClock, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A probe a busy machine spoiled is tried again soon, and the backlog outlasts a few probes.
    monkeypatch.setattr(lanes, "HOLD", 0.5)
    reply = Counting(delay=0.2)  # answers take a while: two lanes deliver at most 10/s, three 15/s
    receiver.reply = reply
    settings = {
        "webhook_max_inflight_per_trigger": 3,
        "webhook_timeout_seconds": 120.0,
        "webhook_slow_seconds": 60.0,
    }
    with hooks_api(tmp_path, live_clock, **settings) as api:
        trigger(api, "fast", receiver.url, events=["record.created"])
        reply.gate.clear()  # a backlog builds while the first lanes wait for their answers
        for _ in range(120):
            ticket(api)
        until(lambda: reply.in_flight == 2)
        assert reply.most == 2 and window(api, "fast").limit == 2  # where every trigger starts
        reply.gate.set()
        receiver.wait_for(120)
        until(lambda: window(api, "fast").limit == 3)  # the third lane paid: it stays

        reply.gate.clear()  # now new deliveries go out on three lanes at once, and no more
        for _ in range(6):
            ticket(api)
        until(lambda: reply.in_flight == 3)
        reply.gate.set()
        receiver.wait_for(126)
        until(lambda: all(d["status"] == "delivered" for d in deliveries(api, "fast")))
    assert reply.most == 3


def test_a_slow_endpoint_is_cut_back_to_one_lane(
    tmp_path: Path, live_clock: FixedClock, receiver: Receiver
) -> None:
    reply = Counting(delay=0.2)
    receiver.reply = reply
    with hooks_api(tmp_path, live_clock, webhook_slow_seconds=0.05) as api:
        trigger(api, "slow", receiver.url, events=["record.created"])
        for _ in range(8):
            ticket(api)
        receiver.wait_for(8)
        until(lambda: all(d["status"] == "delivered" for d in deliveries(api, "slow")))
        assert window(api, "slow").limit == 1
    assert reply.most <= 2  # its first two lanes at most, before any answer came
    assert all(n == 1 for answered, n in reply.seen if answered >= 2)  # one at a time once it answered slowly


def test_a_failing_endpoint_is_cut_back_to_one_lane_and_another_trigger_is_not(
    tmp_path: Path, live_clock: FixedClock, receiver: Receiver
) -> None:
    receiver.reply = lambda r: (500, {}) if r.path == "/down" else (200, {})
    with hooks_api(tmp_path, live_clock) as api:
        trigger(api, "down", receiver.url + "/down", events=["record.created"])
        trigger(api, "up", receiver.url + "/up", events=["record.created"])
        for _ in range(6):
            ticket(api)
        receiver.wait_for(6, "/up")
        until(lambda: all(d["attempts"] for d in deliveries(api, "down")))
        assert {d["status"] for d in deliveries(api, "down")} == {"failed"}  # retried later, on the schedule
        assert window(api, "down").limit == 1
        assert window(api, "up").limit >= 2


def test_a_stuck_endpoint_with_a_long_backlog_never_hides_another_triggers_deliveries(
    tmp_path: Path, live_clock: FixedClock, receiver: Receiver
) -> None:
    stuck = Counting()
    stuck.gate.clear()
    receiver.reply = lambda r: stuck(r) if r.path == "/stuck" else (200, {})
    with hooks_api(tmp_path, live_clock, webhook_timeout_seconds=120.0) as api:
        trigger(api, "stuck", receiver.url + "/stuck", events=["record.created"])
        try:
            # More queued for the stuck endpoint than the loop lists as due in one turn, all older than the
            # other trigger's delivery: the loop must still see that one.
            for _ in range(DUE_LIMIT + 10):
                ticket(api)
            until(lambda: stuck.in_flight == 2)
            trigger(api, "up", receiver.url + "/up", events=["record.created"])
            t = ticket(api)
            got = receiver.wait_for(1, "/up", timeout=20)
            assert got[0]["data"]["record"]["id"] == t["id"]
        finally:
            stuck.gate.set()


def test_the_loop_rests_while_a_stuck_endpoint_holds_its_lanes(
    tmp_path: Path, live_clock: FixedClock, receiver: Receiver
) -> None:
    """Its queued deliveries are due but wait for its lanes, whose end wakes the loop: turning meanwhile would
    only burn the CPU the other triggers' deliveries (and the writers) need."""
    stuck = Counting()
    stuck.gate.clear()
    receiver.reply = stuck
    with hooks_api(tmp_path, live_clock, webhook_timeout_seconds=120.0) as api:
        trigger(api, "stuck", receiver.url, events=["record.created"])
        statements = [0]

        def count(*_args: Any) -> None:
            statements[0] += 1

        try:
            for _ in range(5):
                ticket(api)
            until(lambda: stuck.in_flight == 2)
            time.sleep(0.5)  # the turns that started the lanes are over
            event.listen(api.core.db.engine, "before_cursor_execute", count)  # type: ignore[attr-defined]
            time.sleep(2.0)
            event.remove(api.core.db.engine, "before_cursor_execute", count)  # type: ignore[attr-defined]
        finally:
            stuck.gate.set()
    # a turn a second (the idle timer) runs a few statements; a loop that spins runs thousands
    assert statements[0] < 60, statements[0]

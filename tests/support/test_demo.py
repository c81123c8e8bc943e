"""The demo's SLA picture is a healthy team's at any `now` in business hours (issue 17, item 5): most of
the tickets being worked on are on track, some at risk, a few breached by hours, and the queues say so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deskbase.compose import open_core
from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.support import demo
from deskbase.support.service import SlaService

WS = "demo"
NOW = datetime(2026, 3, 4, 11, 20, tzinfo=UTC)  # a Wednesday morning: business hours on the default calendar
UNSOLVED = ["open", "in_progress", "waiting"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deskbase]:
    data: Path = tmp_path_factory.mktemp("demo")
    core = open_core(Settings(data_dir=str(data), replicate=False, sla_scheduler=False), FixedClock(NOW))
    core.workspaces.put(WS, "Demo", None, SYSTEM)
    demo.load(core, WS, SYSTEM, demo.DemoSize(tickets=600, customers=80, weeks=6))
    core.extensions[SlaService].run_due(limit=5000)  # breaches that fell due since the import's last write
    yield core
    core.close()


def view_count(core: Deskbase, view: str, **filters: Any) -> int:
    sla = core.extensions[SlaService]
    return int(sla.queue(WS, view, {"filter": None, "me": "", **filters}, 1, None)["count"])


def test_most_tickets_are_solved_and_a_few_days_traffic_is_open(loaded: Deskbase) -> None:
    core = loaded
    open_ = core.records.count(WS, "tickets", {"field": "data.status", "op": "in", "value": UNSOLVED})
    assert abs(open_ - 600 * demo.UNSOLVED_SHARE) <= 6  # a solved story squeezed close to now may run over


def test_the_sla_picture_matches_the_target_shares(loaded: Deskbase) -> None:
    core = loaded
    waiting = core.records.count(WS, "tickets", {"field": "data.status", "op": "eq", "value": "waiting"})
    working = core.records.count(
        WS, "tickets", {"field": "data.status", "op": "in", "value": ["open", "in_progress"]}
    )
    at_risk, breached = view_count(core, "at_risk"), view_count(core, "breached")
    on_track = working - at_risk - breached
    shares = dict(demo.FATES)
    # 72 unsolved tickets drawn at random: each share within a generous band around its target
    assert abs(waiting / (waiting + working) - shares["waiting"]) < 0.1
    assert on_track / working > 0.6
    assert 0.04 < at_risk / working < 0.25
    assert 0 < breached / working < 0.15
    assert breached < at_risk < on_track


def test_breaches_are_hours_late_not_weeks(loaded: Deskbase) -> None:
    core = loaded
    sla = core.extensions[SlaService]
    page = sla.queue(WS, "breached", {"filter": None, "me": ""}, 100, None)["data"]
    assert page
    clocks = sla.clocks(WS, [t["id"] for t in page])
    worst = min(datetime.fromisoformat(c["target_at"]) for c in clocks.values())
    assert NOW - worst < timedelta(days=4)  # at most 12 business hours late, weekends included


def test_at_risk_is_not_breached_and_the_hour_strip_has_tickets(loaded: Deskbase) -> None:
    core = loaded
    sla = core.extensions[SlaService]
    soon = sla.queue(WS, "at_risk", {"filter": None, "me": ""}, 100, None)["data"]
    breached = {t["id"] for t in sla.queue(WS, "breached", {"filter": None, "me": ""}, 100, None)["data"]}
    assert soon and not {t["id"] for t in soon} & breached
    for c in sla.clocks(WS, [t["id"] for t in soon]).values():
        assert NOW < datetime.fromisoformat(c["target_at"]) <= NOW + timedelta(hours=2)
    assert 0 < view_count(core, "at_risk", within="60") <= len(soon)


def test_solved_tickets_mostly_met_their_first_reply_target(loaded: Deskbase) -> None:
    rows = loaded.extensions[SlaService].attainment(WS, NOW - timedelta(weeks=7), NOW)
    first = [r for r in rows if r["metric"] == "first_response"]
    met = sum(r["achieved"] for r in first)
    assert met / sum(r["total"] for r in first) > 0.8

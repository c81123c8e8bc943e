"""The console against the SLA service's interface, with a stand-in service: queue views, the SLA sort, the
counts, chips, the ticket panel and attainment all call what the interface promises, and nothing else."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from deskbase.core.clock import iso
from deskbase.support.service import SlaService
from tests.web.conftest import WS, Console


class FakeSla:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.calls: list[tuple[str, Any]] = []

    def _instance(self, **kw: Any) -> dict[str, Any]:
        now = self.console.core.clock.now()
        return {
            "metric": "first_response",
            "cycle": 1,
            "state": "active",
            "business": True,
            "paused": False,
            "pause_reason": None,
            "target_at": iso(now + timedelta(minutes=30)),
            "warn_at": None,
            "remaining_business_seconds": 1800,
            "elapsed_business_seconds": 0,
            "policy_id": "p",
            "policy_version": 1,
            "priority": "high",
            "started_at": iso(now),
            "completed_at": None,
            "breached_at": None,
            **kw,
        }

    def queue(
        self, ws: str, view: str, filters: dict, limit: int, cursor: str | None, count: bool = True
    ) -> dict[str, Any]:
        self.calls.append(("queue", (view, filters, limit, cursor)))
        login = self.console.ticket("login")
        return {"data": [login], "next_cursor": None, "count": 1 if count else None}

    def clocks(self, ws: str, ticket_ids: list[str]) -> dict[str, dict[str, Any]]:
        self.calls.append(("clocks", list(ticket_ids)))
        return {tid: self._instance() for tid in ticket_ids}

    def ticket_view(self, ws: str, ticket_id: str) -> dict[str, Any]:
        self.calls.append(("ticket_view", ticket_id))
        return {
            "sla": [
                self._instance(),
                self._instance(
                    metric="resolution",
                    state="paused",
                    paused=True,
                    pause_reason="status:waiting",
                    remaining_business_seconds=7200,
                ),
            ],
            "metrics": {},
            "policy": {
                "id": "p",
                "name": "Gold",
                "version": 3,
                "calendar_id": "office",
                "calendar_timezone": "Europe/Madrid",
            },
            "events": [
                {
                    "metric": "first_response",
                    "cycle": 1,
                    "kind": "warn",
                    "at": iso(self.console.core.clock.now()),
                    "details": {},
                }
            ],
        }

    def attainment(self, ws: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        self.calls.append(("attainment", (start, end)))
        return [
            {
                "metric": "first_response",
                "priority": "high",
                "total": 4,
                "achieved": 3,
                "breached": 1,
                "attainment": 0.75,
            }
        ]


@pytest.fixture
def fake(console: Console, monkeypatch: pytest.MonkeyPatch) -> FakeSla:
    sla = FakeSla(console)
    monkeypatch.setitem(console.core.extensions, SlaService, sla)
    console.client.app.state.console.counts.clear()  # counted by the real service when the server started
    return sla


def test_sla_views_come_from_the_service_queue(console: Console, fake: FakeSla) -> None:
    r = console.get(f"/w/{WS}/queue?view=at_risk&priority=urgent")
    assert r.status_code == 200 and "Login loop after reset" in r.text and "Export to CSV" not in r.text
    view, filters, limit, cursor = next(args for name, args in fake.calls if name == "queue" and args[2] > 1)
    assert (view, limit, cursor) == ("at_risk", 50, None)
    assert filters["priority"] == "urgent" and filters["filter"] == {
        "field": "data.priority",
        "op": "eq",
        "value": "urgent",
    }
    # the navigation counts of the SLA views come from the same queue (limit 1, its count)
    nav = [args for name, args in fake.calls if name == "queue" and args[2] == 1]
    assert {a[0] for a in nav} == {"at_risk", "breached"}


def test_the_sla_sort_uses_the_service_queue_on_any_view(console: Console, fake: FakeSla) -> None:
    r = console.get(f"/w/{WS}/queue?view=open")
    assert "SLA ordering is not available" not in r.text
    assert ("queue", ("open",)) in [(n, (a[0],)) for n, a in fake.calls if n == "queue" and a[2] > 1]
    r = console.get(f"/w/{WS}/queue?view=open&sort=updated")
    assert "Export to CSV fails" in r.text  # the core's own order


def test_chips_use_one_clocks_call_per_page(console: Console, fake: FakeSla) -> None:
    r = console.get(f"/w/{WS}/queue?view=all&sort=updated")
    assert [n for n, _ in fake.calls].count("clocks") == 1
    assert r.text.count("chip chip-soon") == 4  # 30 minutes left: due soon


def test_the_ticket_panel_names_policy_and_calendar(console: Console, fake: FakeSla) -> None:
    r = console.get(console.ticket_url("export"))
    panel = r.text.split('id="sla-panel"')[1].split("</section>")[0]
    assert "Policy Gold (v3)" in panel and "calendar office · Europe/Madrid" in panel
    assert "paused — status is waiting" in panel and "30m business time left" in panel
    assert "SLA first response: due soon" in r.text  # the service's events reach the timeline


def test_attainment_asks_for_the_chosen_period(console: Console, fake: FakeSla) -> None:
    r = console.get(f"/w/{WS}/dashboard/attainment?period=7d", htmx=True)
    assert "first response · high" in r.text and "75 %" in r.text and "3 met, 1 breached of 4" in r.text
    start, end = next(args for name, args in fake.calls if name == "attainment")
    assert end - start == timedelta(days=7) and end == console.core.clock.now()


def test_without_the_service_sla_parts_are_left_out(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(console.core.extensions, SlaService, raising=False)
    r = console.get(f"/w/{WS}/queue?view=at_risk")
    assert "This view needs the SLA service" in r.text
    page = console.get(console.ticket_url("export"))
    assert (
        "The SLA service is not running" in page.text
        and 'id="urgent-chip" class="urgent"></span>' in page.text
    )
    dash = console.get(f"/w/{WS}/dashboard")
    assert "SLA attainment needs the SLA service" in dash.text

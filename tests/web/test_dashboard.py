"""The dashboard: the seed's four reports through the SQL service, SLA attainment over a period."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import WS, Console, needs_sla

REPORTS = (
    "open_tickets_by_priority",
    "tickets_by_category_and_channel",
    "agent_workload",
    "tickets_by_customer_plan",
)


def test_the_page_lazy_loads_each_report(console: Console) -> None:
    r = console.get(f"/w/{WS}/dashboard")
    assert r.status_code == 200
    for name in REPORTS:
        assert f'hx-get="/w/{WS}/dashboard/reports/{name}" hx-trigger="load"' in r.text
    assert "The SQL replica is off" in r.text  # this fixture runs without the replica


def test_without_the_replica_reports_say_why(console: Console) -> None:
    r = console.get(f"/w/{WS}/dashboard/reports/agent_workload", htmx=True)
    assert r.status_code == 200 and "DESKBASE_REPLICATE=false" in r.text and "<html" not in r.text


def bars(html: str) -> dict[str, str]:
    pairs = re.findall(
        r'<span class="bar-label">(?:<a href="[^"]*">)?([^<]+)(?:</a>)?</span>.*?<span class="bar-value">([^<]+)</span>',
        html,
        re.S,
    )
    return dict(pairs)


def test_reports_run_through_the_sql_service(sql_console: Console) -> None:
    c = sql_console
    r = c.get(f"/w/{WS}/dashboard/reports/open_tickets_by_priority", htmx=True)
    assert r.status_code == 200, r.text
    assert bars(r.text) == {"high": "1", "urgent": "1", "medium": "1"}
    assert f'href="/w/{WS}/queue?sort=updated&amp;view=open&amp;priority=urgent"' in r.text
    r = c.get(f"/w/{WS}/dashboard/reports/agent_workload", htmx=True)
    assert bars(r.text)["agent@acme.example"] == "1" and "0 urgent" in r.text
    r = c.get(f"/w/{WS}/dashboard/reports/tickets_by_customer_plan", htmx=True)
    assert bars(r.text) == {"enterprise": "2", "free": "2"}
    r = c.get(f"/w/{WS}/dashboard/reports/tickets_by_category_and_channel", htmx=True)
    assert '<table class="matrix">' in r.text and "category=billing" in r.text
    page = c.get(f"/w/{WS}/dashboard/reports/open_tickets_by_priority")  # without htmx: a whole page
    assert "<html" in page.text and "← Dashboard" in page.text


def test_reports_need_the_sql_permission(console: Console) -> None:
    raw, _ = console.core.tokens.create(
        "reader", [{"scope": {"workspaces": [WS]}, "permissions": ["read:records"]}]
    )
    console.client.cookies.clear()
    console.sign_in(raw)
    assert console.get(f"/w/{WS}/dashboard").status_code == 200
    assert console.get(f"/w/{WS}/dashboard/reports/agent_workload", htmx=True).status_code == 403
    assert console.get(f"/w/{WS}/dashboard/reports/nope").status_code == 403


def test_an_unknown_report_is_a_404(console: Console) -> None:
    assert console.get(f"/w/{WS}/dashboard/reports/nope").status_code == 404


@pytest.mark.parametrize("period", ["7d", "30d", "90d", "bogus"])
def test_sla_attainment_over_a_period(console: Console, period: str) -> None:
    needs_sla(console.core)
    console.core.clock.advance(hours=1)  # type: ignore[attr-defined]
    r = console.get(f"/w/{WS}/dashboard/attainment?period={period}", htmx=True)
    assert r.status_code == 200
    # the export ticket's first response was met at once
    assert "first response · high" in r.text and "1 met, 0 breached of 1" in r.text and "100 %" in r.text
    assert console.get(f"/w/{WS}/dashboard?period={period}").status_code == 200


def test_sla_attainment_runs_through_the_sql_endpoint(
    sql_console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a replica, attainment is the `sla_attainment` stored query on the SQL replica, not the service."""
    sla = needs_sla(sql_console.core)

    def primary(*_: object) -> None:
        raise AssertionError("attainment was computed on the primary store")

    monkeypatch.setattr(sla, "attainment", primary)
    sql_console.core.clock.advance(hours=1)  # type: ignore[attr-defined]
    r = sql_console.get(f"/w/{WS}/dashboard/attainment?period=30d", htmx=True)
    assert r.status_code == 200
    assert "first response · high" in r.text and "1 met, 0 breached of 1" in r.text and "100 %" in r.text

"""The dashboard: the seed's four reports through the SQL service, SLA attainment over a period."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from deskbase.core.context import SYSTEM as SYSTEM_ACTOR
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


# ---- the lead dashboard ---------------------------------------------------------------------------------
PANELS = ("created_vs_solved", "first_response", "attainment_by_plan", "weekday_hour")


def strip_numbers(html: str) -> dict[str, tuple[str | None, str]]:
    """id -> (the number's link, the number) of each strip item."""
    items = re.findall(
        r'<li class="strip-item" id="strip-([a-z_0-9]+)">.*?<span class="strip-value">(?:<a href="([^"]*)">)?([^<]+)',
        html,
        re.S,
    )
    return {i: (href.replace("&amp;", "&") or None, value) for i, href, value in items}


def strip_parts(html: str) -> dict[str, str]:
    """label -> link of the strip's breakdown numbers ("8 open" -> its queue)."""
    found = re.findall(r'<span class="strip-parts">(.*?)</span>', html, re.S)
    return {
        text: href.replace("&amp;", "&")
        for part in found
        for href, text in re.findall(r'<a href="([^"]*)">([^<]+)</a>', part)
    }


def queue_count(c: Console, href: str) -> int:
    r = c.get(href)
    assert r.status_code == 200, r.text
    m = re.search(r'<p class="count-line" id="queue-count">([\d,]+) tickets?', r.text)
    assert m, f"no count line at {href}"
    return int(m.group(1).replace(",", ""))


def test_the_page_lazy_loads_the_strip_and_the_lead_panels(console: Console) -> None:
    r = console.get(f"/w/{WS}/dashboard?period=7d&clock=calendar")
    assert r.status_code == 200
    assert f'hx-get="/w/{WS}/dashboard/strip" hx-trigger="load"' in r.text
    for name in PANELS:
        assert f'hx-get="/w/{WS}/dashboard/panels/{name}?period=7d' in r.text
    assert f"/w/{WS}/dashboard/panels/first_response?period=7d&amp;clock=calendar" in r.text
    assert r.text.index('id="live-strip"') < r.text.index('id="report-open_tickets_by_priority"')
    assert r.text.index('id="attainment-h"') < r.text.index('id="panel-created_vs_solved"')


@pytest.mark.parametrize("name", PANELS)
def test_without_the_replica_each_lead_panel_says_why(console: Console, name: str) -> None:
    r = console.get(f"/w/{WS}/dashboard/panels/{name}?period=30d", htmx=True)
    assert r.status_code == 200 and "<html" not in r.text
    assert "The SQL replica is off on this server" in r.text and 'role="alert"' in r.text
    page = console.get(f"/w/{WS}/dashboard/panels/{name}")
    assert page.status_code == 200 and "<html" in page.text and "← Dashboard" in page.text


def test_lead_panels_need_sql_and_exist(console: Console) -> None:
    assert console.get(f"/w/{WS}/dashboard/panels/nope").status_code == 404
    raw, _ = console.core.tokens.create(
        "reader", [{"scope": {"workspaces": [WS]}, "permissions": ["read:records"]}]
    )
    console.client.cookies.clear()
    console.sign_in(raw)
    assert console.get(f"/w/{WS}/dashboard/panels/weekday_hour", htmx=True).status_code == 403
    assert console.get(f"/w/{WS}/dashboard/strip", htmx=True).status_code == 200  # the strip is the queue's


def test_the_strip_numbers_are_the_queues_counts(console: Console) -> None:
    """Every strip number links to a queue whose count is that number (the 60-minute one: At risk within 60)."""
    sla = needs_sla(console.core)
    clock = console.core.clock
    # move to half an hour before the earliest running clock is due, then past it: both SLA numbers move
    due = min(
        datetime.fromisoformat(i["target_at"])
        for tid in console.seed.tickets.values()
        for i in sla.ticket_view(WS, tid)["sla"]
        if i["state"] in ("active", "warning")
    )
    for moment, expect_soon, expect_breached in (
        (due - timedelta(minutes=30), 1, 0),
        (due + timedelta(minutes=1), 0, 1),
    ):
        clock.set(moment)  # type: ignore[attr-defined]
        sla.run_due()
        r = console.get(f"/w/{WS}/dashboard/strip", htmx=True)
        assert r.status_code == 200 and "<html" not in r.text
        assert 'hx-trigger="every 60s"' in r.text  # it stays live
        numbers = strip_numbers(r.text)
        assert set(numbers) == {"open", "unassigned", "ours", "due_60", "breached"}
        for key in ("open", "unassigned", "breached", "ours"):  # "ours": status=open,in_progress
            href, value = numbers[key]
            assert href is not None and queue_count(console, href) == int(value), key
        parts = strip_parts(r.text)
        in_parts = 0
        for text, href in parts.items():
            n = int(text.split()[0])
            assert queue_count(console, href) == n, text
            in_parts += n
        assert (
            int(numbers["ours"][1]) == in_parts == 2
        )  # export and dark are open; login waits on the customer
        href, value = numbers["due_60"]
        assert href == f"/w/{WS}/queue?view=at_risk&within=60"
        now = clock.now()
        soon = sum(  # a clock running, not paused nor breached, due within the hour (login's is paused)
            any(
                i["state"] in ("active", "warning")
                and now < datetime.fromisoformat(i["target_at"]) <= now + timedelta(minutes=60)
                for i in sla.ticket_view(WS, tid)["sla"]
            )
            for tid in console.seed.tickets.values()
        )
        assert int(value) == soon == expect_soon == queue_count(console, href)
        assert int(numbers["breached"][1]) == expect_breached


def test_the_created_vs_solved_panel(sql_console: Console) -> None:
    c = sql_console
    r = c.get(f"/w/{WS}/dashboard/panels/created_vs_solved?period=7d", htmx=True)
    assert r.status_code == 200 and "<html" not in r.text, r.text
    assert '<svg class="trend-chart"' in r.text and "<polyline" in r.text
    cells = r"<td>(\d+)</td>" * 4
    rows = re.findall(rf'<tr><th scope="row"><time datetime="([\d-]+)">[^<]+</time></th>{cells}</tr>', r.text)
    assert len(rows) == 7
    today = c.core.clock.now().date().isoformat()
    assert rows[0] == (today, "4", "1", "0", "3")  # newest first: four created, the invoice created solved
    assert all(row[1:] == ("0", "0", "0", "0") for row in rows[1:])
    assert f'<a href="/w/{WS}/queue?sort=updated&amp;view=open"><strong>3</strong></a>' in r.text
    assert queue_count(c, f"/w/{WS}/queue?view=open") == 3
    assert "4 created" in r.text or "<strong>4</strong> created" in r.text
    page = c.get(f"/w/{WS}/dashboard/panels/created_vs_solved?period=90d")
    assert "<html" in page.text and page.text.count("<time datetime=") == 90


def test_the_first_response_panel_toggles_business_and_calendar(sql_console: Console) -> None:
    c = sql_console
    c.core.clock.advance(minutes=40)  # type: ignore[attr-defined]
    login = c.seed.tickets["login"]
    from deskbase.core.context import SYSTEM
    from deskbase.support.tickets import add_response

    add_response(c.core, WS, login, {"body": "Checking.", "author": "agent@acme.example"}, SYSTEM)
    for clock, label in (("business", "Business hours"), ("calendar", "Calendar time")):
        r = c.get(f"/w/{WS}/dashboard/panels/first_response?period=30d&clock={clock}", htmx=True)
        assert r.status_code == 200, r.text
        assert f'aria-current="true">{label}</a>' in r.text
        assert 'hx-target="#panel-first_response"' in r.text
        got = bars(r.text)
        assert got["under 15 min"] == "1" and sum(int(v) for v in got.values()) == 2
        assert "<strong>2</strong> first replies" in r.text
    calendar = c.get(f"/w/{WS}/dashboard/panels/first_response?clock=calendar", htmx=True).text
    assert bars(calendar)["30 min\u20131 h"] == "1"  # the login reply came 40 minutes after creation
    assert '<strong class="stat-median">' in calendar and '<strong class="stat-p90">' in calendar


def test_the_attainment_by_plan_panel(sql_console: Console) -> None:
    c = sql_console
    c.core.clock.advance(hours=1)  # type: ignore[attr-defined]
    r = c.get(f"/w/{WS}/dashboard/panels/attainment_by_plan?period=30d", htmx=True)
    assert r.status_code == 200, r.text
    assert '<table class="matrix rates">' in r.text
    assert "First response · high" in r.text and "<strong>100 %</strong>" in r.text and "1/1" in r.text
    assert re.search(r'<th scope="col">Enterprise</th>', r.text)


def test_the_weekday_hour_panel_in_the_workspace_zone(sql_console: Console) -> None:
    c = sql_console
    c.core.workspaces.put(WS, None, {"timezone": "Asia/Tokyo"}, SYSTEM_ACTOR)
    r = c.get(f"/w/{WS}/dashboard/panels/weekday_hour?period=7d", htmx=True)
    assert r.status_code == 200, r.text
    assert "Asia/Tokyo" in r.text
    now = c.core.clock.now().astimezone(ZoneInfo("Asia/Tokyo"))
    row = re.search(rf'<tr><th scope="row">{now:%a}</th>(.*?)</tr>', r.text, re.S)
    assert row
    cells = re.findall(r"<td[^>]*>(\d+)</td>", row.group(1))
    assert len(cells) == 25 and cells[now.hour] == "4" and cells[-1] == "4"
    assert "4 tickets in all" in r.text


def test_a_panel_reading_the_change_log_needs_read_audit(sql_console: Console) -> None:
    """Panels check table permissions like POST …/sql: created vs solved replays part of operations_log."""
    c = sql_console
    raw, _ = c.core.tokens.create(
        "analyst", [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "sql"]}]
    )
    c.client.cookies.clear()
    c.sign_in(raw)
    r = c.get(f"/w/{WS}/dashboard/panels/created_vs_solved", htmx=True)
    assert r.status_code == 200 and 'role="alert"' in r.text and "read:audit" in r.text
    r = c.get(f"/w/{WS}/dashboard/panels/attainment_by_plan", htmx=True)
    assert 'role="alert"' in r.text and "read:relationships" in r.text
    r = c.get(f"/w/{WS}/dashboard/panels/weekday_hour", htmx=True)
    assert r.status_code == 200 and 'role="alert"' not in r.text and "4 tickets in all" in r.text


@pytest.mark.parametrize("name", PANELS)
def test_each_lead_panel_opens_as_a_page_of_its_own(sql_console: Console, name: str) -> None:
    """Without htmx (a link opened directly, no script) a panel is a whole page with its numbers."""
    r = sql_console.get(f"/w/{WS}/dashboard/panels/{name}?period=7d")
    assert r.status_code == 200 and "<html" in r.text and "← Dashboard" in r.text
    assert f'id="panel-{name}"' in r.text and 'role="alert"' not in r.text
    assert "ran in" in r.text and "on the SQL replica" in r.text
    strip = sql_console.get(f"/w/{WS}/dashboard/strip")
    assert "<html" in strip.text and 'id="strip-open"' in strip.text


def test_a_report_reading_a_table_the_token_may_not_read_is_refused(sql_console: Console) -> None:
    """tickets_by_customer_plan joins relationships: without read:relationships it says so, as POST …/sql does."""
    grants = [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "sql"]}]
    raw, _ = sql_console.core.tokens.create("no-links", grants)
    sql_console.client.cookies.clear()
    sql_console.sign_in(raw)
    r = sql_console.get(f"/w/{WS}/dashboard/reports/tickets_by_customer_plan", htmx=True)
    assert r.status_code == 200 and "The report could not run" in r.text and "read:relationships" in r.text
    ok = sql_console.get(f"/w/{WS}/dashboard/reports/open_tickets_by_priority", htmx=True)
    assert "The report could not run" not in ok.text


def test_an_agent_without_sql_sees_no_refusals_only_what_they_may_see(console: Console) -> None:
    """Issue #17 item 7: panels the viewer may not run are left out and named once, quietly; the live strip
    and SLA attainment (read:records) stay."""
    raw, _ = console.core.tokens.create(
        "agent", [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "read:relationships"]}]
    )
    console.client.cookies.clear()
    console.sign_in(raw)
    html = console.get(f"/w/{WS}/dashboard").text
    assert "/dashboard/reports/" not in html and "/dashboard/panels/" not in html
    assert 'class="panel report"' not in html and 'class="panel lead-panel"' not in html
    assert 'id="withheld"' in html and "reports" in html.split('id="withheld"')[1].split("</p>")[0]
    assert "/dashboard/strip" in html and "/dashboard/attainment" in html
    assert "form-error" not in html and "403" not in html


def test_with_sql_every_panel_is_offered(console: Console) -> None:
    html = console.get(f"/w/{WS}/dashboard").text
    assert 'id="withheld"' not in html
    assert html.count('class="panel report"') >= 4 and html.count('class="panel lead-panel"') == 4

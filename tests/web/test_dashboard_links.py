"""Every number on the dashboard that is a link opens a queue whose count is that number (issue 17, item 4):
each report's bars and cells, the live strip and its parts, the backlog of created vs solved."""

from __future__ import annotations

import html
import re

from deskbase.core.context import SYSTEM
from tests.web.conftest import AGENT, WS, Console
from tests.web.test_dashboard import queue_count, strip_numbers, strip_parts

LINKED_REPORTS = ("open_tickets_by_priority", "tickets_by_category_and_channel", "agent_workload")


def linked_numbers(page: str) -> list[tuple[str, int]]:
    """(link, number) of every linked number in a panel: bars, matrix cells and the backlog."""
    found = re.findall(
        r'<span class="bar-label"><a href="([^"]+)">[^<]*</a></span>.*?<span class="bar-value">([\d,]+)</span>',
        page,
        re.S,
    )
    found += re.findall(r'<td[^>]*><a href="([^"]+)">([\d,]+)</a></td>', page)
    found += re.findall(r'backlog now <a href="([^"]+)"><strong>([\d,]+)</strong>', page)
    return [(html.unescape(href), int(n.replace(",", ""))) for href, n in found]


def add_awkward_tickets(c: Console) -> None:
    """What the seed lacks and the old links got wrong: a ticket without category (a "none" row), an
    agent's ticket waiting on the customer (workload leaves waiting out), an unassigned one in progress."""
    for data in (
        {"subject": "No category", "status": "open", "priority": "medium", "channel": "web"},
        {"subject": "Waiting on Ana", "status": "waiting", "priority": "high", "assignee": AGENT},
        {"subject": "Nobody has it", "status": "in_progress", "priority": "low", "category": "question"},
    ):
        c.core.records.create(WS, "tickets", {"data": data}, SYSTEM)


def test_every_linked_report_number_is_its_queues_count(sql_console: Console) -> None:
    c = sql_console
    add_awkward_tickets(c)
    checked: dict[str, int] = {}
    for name in LINKED_REPORTS:
        r = c.get(f"/w/{WS}/dashboard/reports/{name}", htmx=True)
        assert r.status_code == 200, r.text
        links = linked_numbers(r.text)
        assert links, f"{name} has no linked number"
        for href, n in links:
            assert queue_count(c, href) == n, (name, href, n)
        checked[name] = len(links)
    # the rows the old links got wrong are among those checked
    workload = c.get(f"/w/{WS}/dashboard/reports/agent_workload", htmx=True).text
    assert "assignee=%28none%29" in workload and "status=open%2Cin_progress" in workload
    matrix = c.get(f"/w/{WS}/dashboard/reports/tickets_by_category_and_channel", htmx=True).text
    assert "category=%28none%29" in matrix
    assert checked["agent_workload"] >= 2 and checked["tickets_by_category_and_channel"] >= 5


def test_the_strip_and_the_backlog_are_their_queues_counts(sql_console: Console) -> None:
    c = sql_console
    add_awkward_tickets(c)
    strip = c.get(f"/w/{WS}/dashboard/strip", htmx=True).text
    pairs = [(href, int(v)) for href, v in strip_numbers(strip).values() if href and v.strip().isdigit()]
    pairs += [(href, int(text.split()[0])) for text, href in strip_parts(strip).items()]
    assert len(pairs) >= 6
    trend = c.get(f"/w/{WS}/dashboard/panels/created_vs_solved?period=7d", htmx=True).text
    backlog = linked_numbers(trend)
    assert len(backlog) == 1
    for href, n in pairs + backlog:
        assert queue_count(c, href) == n, (href, n)


def test_a_none_filter_lists_the_tickets_without_the_field(sql_console: Console) -> None:
    c = sql_console
    add_awkward_tickets(c)
    page = c.get(f"/w/{WS}/queue?view=all&category=%28none%29").text
    assert "No category" in page and "Export to CSV fails" not in page
    assert queue_count(c, f"/w/{WS}/queue?view=all&category=%28none%29,bug") == 4  # 2 bugs, 2 without
    assert queue_count(c, f"/w/{WS}/queue?view=open&assignee=%28none%29") == 4

"""The queue: views with counts, filters, sorts, keyset pages, batched customers, the refresh poll."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.support.service import SlaService
from deskbase.web import queue as q
from tests.web.conftest import AGENT, WS, Console, QueryCounter


def subjects(html: str) -> list[str]:
    return re.findall(r'<td class="col-subject"><a href="[^"]+">([^<]+)</a>', html)


def counts(html: str) -> dict[str, str]:
    return dict(re.findall(r"<span>([^<]+)</span><span class=\"count\">([^<]+)</span>", html))


def set_me(console: Console, me: str) -> None:
    console.core.preferences.update(console.core.tokens.authenticate(console.token).id, {"me": me})


def test_my_open_tickets_is_the_default_view(console: Console) -> None:
    r = console.get(f"/w/{WS}/queue")
    assert "<h1>My open tickets</h1>" in r.text
    assert subjects(r.text) == [] and "Nothing is assigned to <strong>admin</strong>" in r.text
    set_me(console, AGENT)
    assert subjects(console.get(f"/w/{WS}/queue").text) == ["Export to CSV fails"]


def test_each_view_has_a_live_count(console: Console) -> None:
    set_me(console, AGENT)
    nav = counts(console.get(f"/w/{WS}/queue").text)
    assert nav["My open tickets"] == "1"
    assert nav["Unassigned"] == "2"
    assert nav["All open"] == "3"
    assert nav["Waiting on customer"] == "1"
    assert nav["All tickets"] == "4"


def test_the_shared_counts_are_ready_when_the_server_starts(console: Console) -> None:
    """Warmed at start-up: the first visit counts only the views that depend on who is asking."""
    with QueryCounter(console.core) as qc:
        nav = counts(console.get(f"/w/{WS}/queue?view=open").text)
    assert nav["All open"] == "3" and nav["All tickets"] == "4"
    assert [s for s in qc.statements if "count(" in s.lower()] == [
        s for s in qc.statements if "count(" in s.lower() and "assignee" in s
    ]


def test_a_page_never_waits_long_for_counts(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts nobody has yet (the first visit after a start) are loaded by the nav in a second request."""
    from deskbase.web.views import queue as views

    original = q.view_counts

    def slow(*args: object, **kwargs: object) -> dict[str, int | None]:
        time.sleep(0.2)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(views, "NAV_WAIT_SECONDS", 0.01)
    monkeypatch.setattr(q, "view_counts", slow)
    console.client.app.state.console.counts.clear()
    console.core.records.patch(WS, "tickets", console.seed.tickets["dark"], {"priority": "high"}, SYSTEM)
    page = console.get(f"/w/{WS}/queue?view=open").text
    m = re.search(r'hx-get="(/w/acme/queue/nav\?view=open&amp;total=1)" hx-trigger="load"', page)
    assert m and 'aria-busy="true"' in page
    assert subjects(page) and "3 tickets" not in page  # the list is there, its total comes with the nav
    nav = console.get(m.group(1).replace("&amp;", "&"), htmx=True).text
    assert counts(nav)["All open"] == "3" and "hx-get" not in nav and 'aria-current="page"' in nav
    assert '<p class="count-line" id="queue-count" hx-swap-oob="true">3 tickets</p>' in nav


def test_at_risk_counts_follow_the_clock(console: Console, clock: FixedClock) -> None:
    """Nothing is written between the two visits: the count still moves as a deadline comes within 2 h.
    The urgent login ticket waits on the customer: its clocks are paused, so it is never at risk."""
    assert counts(console.get(f"/w/{WS}/queue").text)["At risk"] == "0"
    clock.set(
        clock.now() + timedelta(hours=6, minutes=30)
    )  # "Dark mode" (medium) is due for a reply at 17:00
    assert counts(console.get(f"/w/{WS}/queue").text)["At risk"] == "1"
    page = console.get(f"/w/{WS}/queue?view=at_risk").text
    assert subjects(page) == ["Dark mode please"] and "not paused, not breached" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("view=open", {"Export to CSV fails", "Login loop after reset", "Dark mode please"}),
        ("view=unassigned", {"Login loop after reset", "Dark mode please"}),
        ("view=waiting", {"Login loop after reset"}),
        ("view=all&status=resolved", {"Invoice with VAT id"}),
        ("view=all&priority=urgent", {"Login loop after reset"}),
        ("view=all&category=billing", {"Invoice with VAT id"}),
        ("view=all&channel=web", {"Invoice with VAT id", "Dark mode please"}),
        ("view=all&assignee=agent@acme.example", {"Export to CSV fails", "Invoice with VAT id"}),
        ("view=all&tag=vip", {"Export to CSV fails"}),
        ("view=all&q=csv", {"Export to CSV fails"}),
        ("view=all&q=%232", {"Login loop after reset"}),  # '#2': the ticket numbered 2, nothing else
        # words across fields: subject + a note's text, subject + customer name, a customer's company
        ("view=all&q=csv+engineering", {"Export to CSV fails"}),
        ("view=all&q=invoice+garcia", {"Invoice with VAT id"}),
        ("view=open&q=globex", {"Export to CSV fails"}),
        ("view=all&q=dark+initech", {"Dark mode please"}),
        ("view=all&q=dark+globex", set()),
        ("view=open&category=bug&channel=chat", {"Login loop after reset"}),
    ],
)
def test_views_and_filters(console: Console, query: str, expected: set[str]) -> None:
    r = console.get(f"/w/{WS}/queue?{query}")
    assert r.status_code == 200
    assert set(subjects(r.text)) == expected
    assert f"{len(expected)} ticket" in r.text


def test_an_unknown_filter_value_is_explained_and_ignored(console: Console) -> None:
    r = console.get(f"/w/{WS}/queue?view=all&status=lost")
    assert r.status_code == 200
    assert "&#39;lost&#39; is not a status" in r.text and 'aria-invalid="true"' in r.text
    assert len(subjects(r.text)) == 4


def test_sorts(console: Console) -> None:
    core = console.core
    core.clock.advance(minutes=5)  # type: ignore[attr-defined]
    core.records.patch(WS, "tickets", console.seed.tickets["invoice"], {"priority": "medium"}, SYSTEM)
    created = subjects(console.get(f"/w/{WS}/queue?view=all&sort=created_asc").text)
    assert created == [
        "Export to CSV fails",
        "Login loop after reset",
        "Invoice with VAT id",
        "Dark mode please",
    ]
    newest = subjects(console.get(f"/w/{WS}/queue?view=all&sort=created").text)
    assert newest == list(reversed(created))
    updated = subjects(console.get(f"/w/{WS}/queue?view=all&sort=updated").text)
    assert updated[0] == "Invoice with VAT id"


def test_the_default_sort_puts_the_most_urgent_sla_clock_first(console: Console) -> None:
    page = subjects(console.get(f"/w/{WS}/queue?view=all").text)
    tickets = console.core.records.query(WS, "tickets", limit=100)["data"]
    by_subject = {t["data"]["subject"]: t["id"] for t in tickets}
    clocks = console.core.extensions[SlaService].clocks(WS, list(by_subject.values()))
    due = {s: clocks[i]["target_at"] if i in clocks else "~" for s, i in by_subject.items()}
    assert page == sorted(page, key=lambda s: (due[s], by_subject[s]))
    assert any(v != "~" for v in due.values())


def test_keyset_pages_cover_every_ticket_once(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(q, "PAGE_SIZE", 3)
    first = console.get(f"/w/{WS}/queue?view=all&sort=created")
    seen = subjects(first.text)
    assert len(seen) == 3 and "4 tickets" in first.text
    more = re.search(r'hx-get="([^"]+fragment=rows[^"]*)"', first.text)
    assert more
    rows = console.get(more.group(1).replace("&amp;", "&"), htmx=True)
    assert "<html" not in rows.text
    seen += subjects(rows.text)
    assert sorted(seen) == sorted(
        ["Export to CSV fails", "Login loop after reset", "Invoice with VAT id", "Dark mode please"]
    )
    assert "Show more tickets" not in rows.text
    nxt = re.search(r'<a href="([^"]+cursor=[^"]+)" hx-get', first.text)
    assert nxt
    page2 = console.get(nxt.group(1).replace("&amp;", "&"))
    assert subjects(page2.text) == subjects(rows.text) and "back to the first page" in page2.text


def test_rows_show_customer_plan_and_company(console: Console) -> None:
    r = console.get(f"/w/{WS}/queue?view=all&q=export")
    assert "Ana Garcia<small>Globex · enterprise</small>" in r.text


def test_the_queue_costs_the_same_queries_for_4_or_40_tickets(console: Console) -> None:
    def cost() -> int:
        console.client.app.state.console.counts.clear()  # both measures include the navigation's counts
        with QueryCounter(console.core) as qc:
            assert console.get(f"/w/{WS}/queue?view=all&sort=updated").status_code == 200
        return qc.count

    cost()  # the first page fills the per-process caches (collections, the signed-in record) if the warmer has not
    few = cost()
    cust = console.seed.customers["ana"]
    for i in range(36):
        t, _ = console.core.records.create(
            WS, "tickets", {"data": {"subject": f"Bulk {i}", "status": "open", "priority": "low"}}, SYSTEM
        )
        console.core.relationships.upsert(
            WS,
            {
                "rel_type": "submitted_by",
                "source": {"collection": "tickets", "id": t["id"]},
                "target": {"collection": "customers", "id": cust},
            },
            SYSTEM,
        )
    assert cost() == few


def test_the_refresh_poll_counts_changed_tickets(console: Console) -> None:
    page = console.get(f"/w/{WS}/queue?view=all")
    since = re.search(r"fresh\?since=(\d+)", page.text)
    assert since
    url = f"/w/{WS}/queue/fresh?since={since.group(1)}&href=/w/{WS}/queue?view=all"
    assert console.get(url, htmx=True).text.strip() == ""
    console.core.records.patch(WS, "tickets", console.seed.tickets["dark"], {"priority": "high"}, SYSTEM)
    r = console.get(url, htmx=True)
    assert (
        "1 ticket changed since you opened this list" in r.text and 'href="/w/acme/queue?view=all"' in r.text
    )


def test_another_workspace_is_not_found(console: Console) -> None:
    r = console.get("/w/nope/queue")
    assert r.status_code == 404 and "workspace &#39;nope&#39; not found" in r.text


def test_sla_chips_come_from_one_clocks_call(console: Console) -> None:
    from tests.web.conftest import needs_sla

    sla = needs_sla(console.core)
    calls: list[list[str]] = []
    original = sla.clocks

    def spy(ws: str, ids: list[str]) -> dict:
        calls.append(ids)
        return original(ws, ids)

    sla.clocks = spy
    try:
        r = console.get(f"/w/{WS}/queue?view=all&sort=updated")
    finally:
        del sla.clocks
    assert len(calls) == 1 and len(calls[0]) == 4
    assert "chip chip-" in r.text and 'role="timer"' in r.text


def test_an_enum_filter_takes_several_values(console: Console) -> None:
    r = console.get(f"/w/{WS}/queue?view=all&status=open,waiting")
    assert set(subjects(r.text)) == {"Export to CSV fails", "Login loop after reset", "Dark mode please"}
    assert "3 tickets" in r.text
    bad = console.get(f"/w/{WS}/queue?view=all&status=open,lost")
    assert "&#39;lost&#39; is not a status" in bad.text and len(subjects(bad.text)) == 4


def test_warming_before_serving_stops_at_its_deadline(console: Console) -> None:
    """What is left when the start's warm-up budget runs out is handed to the background warmer."""
    con = console.client.app.state.console
    assert con.warm([WS, "other"], deadline=time.monotonic() - 1) == [WS, "other"]
    assert con.warm([WS]) == []

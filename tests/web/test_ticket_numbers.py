"""Issue #17 item 2: tickets can be told apart. The ticket number (`#1042`) names a ticket everywhere (ticket
header, collection browser, record links, related-ticket picker and panel), and pickers show the customer
and status beside the subject, fetched for all listed tickets at once."""

from __future__ import annotations

import re

from deskbase.core.context import SYSTEM
from tests.web.conftest import WS, Console, QueryCounter


def same_subject_tickets(console: Console, n: int) -> list[str]:
    """`n` tickets called "API endpoint for audit logs", each by a customer of its own."""
    ids = []
    for i in range(n):
        cust = console.core.records.create(
            WS,
            "customers",
            {"data": {"name": f"Customer {i}", "email": f"c{i}@example.com", "company": f"Co{i}"}},
            SYSTEM,
        )[0]["id"]
        status = ("open", "waiting", "resolved")[i % 3]
        data = {"subject": "API endpoint for audit logs", "status": status, "priority": "low"}
        tid = console.core.records.create(WS, "tickets", {"data": data}, SYSTEM)[0]["id"]
        console.core.relationships.upsert(
            WS,
            {
                "rel_type": "submitted_by",
                "source": {"collection": "tickets", "id": tid},
                "target": {"collection": "customers", "id": cust},
            },
            SYSTEM,
        )
        ids.append(tid)
    return ids


def test_the_ticket_header_names_the_number_and_keeps_the_id_one_click_away(console: Console) -> None:
    t = console.ticket("export")
    html = console.get(console.ticket_url("export")).text
    head = html.split('id="ticket-head"')[1].split("</section>")[0]
    assert f"Ticket #{t['number']}</span>" in head
    # the id is not in the header's text line, but in a folded "Id" with a copy button
    crumbs = head.split("<details")[0]
    assert t["id"] not in re.sub(r'title="[^"]*"', "", crumbs)
    assert f'<code id="ticket-id" class="mono">{t["id"]}</code>' in head
    assert 'data-copy="ticket-id"' in head


def test_the_collection_browser_lists_tickets_by_number(console: Console) -> None:
    html = console.get(f"/w/{WS}/collections/tickets").text
    for key in console.seed.tickets:
        t = console.ticket(key)
        assert f'title="id {t["id"]}">#{t["number"]}</a>' in html
        assert f">{t['id'][-12:]}</a>" not in html
    # a collection without numbers keeps the id column
    customers = console.get(f"/w/{WS}/collections/customers").text
    ana = console.seed.customers["ana"]
    assert f">{ana[-12:]}</a>" in customers


def test_a_record_page_names_linked_tickets_by_number_and_subject(console: Console) -> None:
    ana = console.seed.customers["ana"]
    html = console.get(f"/w/{WS}/collections/customers/{ana}").text
    export = console.ticket("export")
    assert f"tickets #{export['number']} Export to CSV fails</a>" in html
    ticket_page = console.get(f"/w/{WS}/collections/tickets/{export['id']}").text
    assert f"#{export['number']} Export to CSV fails</h1>" in ticket_page
    assert "customers Ana Garcia</a>" in ticket_page


def test_six_tickets_with_one_subject_can_be_told_apart_in_the_link_picker(console: Console) -> None:
    ids = same_subject_tickets(console, 6)
    r = console.get(console.ticket_url("export", "/related/search?ticket=audit"), htmx=True)
    assert r.status_code == 200
    buttons = re.findall(r'<button type="submit" class="match">(.*?)</button>', r.text, re.S)
    assert len(buttons) == 6
    for i, tid in enumerate(ids):
        number = console.core.records.get(WS, "tickets", tid)["number"]
        status = ("Open", "Waiting", "Resolved")[i % 3]
        [button] = [b for b in buttons if f"#{number}</span>" in b]
        assert "API endpoint for audit logs" in button
        assert f"Customer {i} (Co{i})" in button and f">{status}</span>" in button
    assert len(set(buttons)) == 6


def test_the_picker_fetches_customers_in_one_batch(console: Console) -> None:
    """The cost of the picker does not grow with its matches: no query per listed ticket."""
    same_subject_tickets(console, 2)

    def cost() -> int:
        with QueryCounter(console.core) as qc:
            r = console.get(console.ticket_url("export", "/related/search?ticket=audit"), htmx=True)
            assert r.status_code == 200
        return qc.count

    few = cost()
    same_subject_tickets(console, 6)
    assert cost() == few


def test_the_related_panel_shows_number_customer_and_status(console: Console) -> None:
    login = console.ticket("login")
    r = console.post(console.ticket_url("export", "/related"), {"ticket": login["id"]}, htmx=True)
    panel = r.text.split('id="related"')[1].split("</section>")[0]
    assert f'<span class="num">#{login["number"]}</span>' in panel
    assert "Ben Smith (Initech)" in panel and ">Waiting</span>" in panel
    assert f'aria-label="Unlink #{login["number"]} Login loop after reset"' in panel


def test_without_customer_access_the_picker_still_shows_number_and_status(console: Console) -> None:
    grants = [
        {
            "scope": {"workspaces": [WS], "collections": ["tickets"]},
            "permissions": ["read:records", "read:relationships"],
        }
    ]
    raw, _ = console.core.tokens.create("reader", grants)
    console.client.cookies.clear()
    assert console.sign_in(raw).status_code == 303
    r = console.get(console.ticket_url("export", "/related/search?ticket=log"), htmx=True)
    login = console.ticket("login")
    assert f"#{login['number']}</span>" in r.text and ">Waiting</span>" in r.text
    assert "Ben Smith" not in r.text

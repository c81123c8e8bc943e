"""The console's search page: one box over tickets, customers and messages, grouped, with numbers and links."""

from __future__ import annotations

import re

from tests.web.conftest import WS, Console


def test_header_box_searches_everything(console: Console) -> None:
    page = console.get(f"/w/{WS}/queue").text
    assert f'action="/w/{WS}/search"' in page
    r = console.get(f"/w/{WS}/search", params={"q": "globex"})
    assert r.status_code == 200
    assert "<h2" in r.text and ">Customers</h2>" in r.text
    assert f'href="/w/{WS}/customers/{console.seed.customers["ana"]}"' in r.text
    assert "ana@globex.example · Globex" in r.text


def test_tickets_show_number_status_customer_and_message(console: Console) -> None:
    export = console.ticket("export")
    r = console.get(f"/w/{WS}/search", params={"q": "fails every"})
    assert f'<span class="num">#{export["number"]}</span> Export to CSV fails' in r.text
    assert "Ana Garcia" in r.text and 'class="status status-open"' in r.text
    assert "It fails every time." in r.text  # the message that matched
    by_number = console.get(f"/w/{WS}/search", params={"q": f"#{export['number']}"}).text
    assert len(re.findall(r"data-hit", by_number)) == 1 and console.ticket_url("export") in by_number


def test_words_spread_over_subject_customer_and_messages(console: Console) -> None:
    """ "csv garcia": a subject word and the customer's name; "login initech": subject and company."""
    for q, key in (("csv garcia", "export"), ("engineering globex", "export"), ("login initech", "login")):
        r = console.get(f"/w/{WS}/search", params={"q": q}).text
        assert len(re.findall(r"data-hit", r)) == 1 and console.ticket_url(key) in r, q
    assert "data-hit" not in console.get(f"/w/{WS}/search", params={"q": "login globex"}).text


def test_typing_refreshes_only_the_results(console: Console) -> None:
    r = console.client.get(
        f"/w/{WS}/search",
        params={"q": "login"},
        headers={"HX-Request": "true"},
    )
    assert r.text.lstrip().startswith('<section id="search-results"') and "Login loop after reset" in r.text
    empty = console.get(f"/w/{WS}/search", params={"q": "zzzz"}).text
    assert "Nothing matches" in empty
    assert (
        "data-hit" not in console.get(f"/w/{WS}/search").text
        and "Nothing matches" not in console.get(f"/w/{WS}/search").text
    )


def test_a_scoped_token_finds_only_what_it_may_read(console: Console) -> None:
    raw, _ = console.core.tokens.create(
        "tickets-only",
        [{"scope": {"workspaces": [WS], "collections": ["tickets"]}, "permissions": ["read:records"]}],
    )
    console.client.cookies.clear()
    assert console.sign_in(raw).status_code == 303
    text = console.get(f"/w/{WS}/search", params={"q": "globex"}).text
    assert "Customers</h2>" not in text and "Ana Garcia" not in text
    text = console.get(f"/w/{WS}/search", params={"q": "fails every"}).text
    assert "Export to CSV fails" not in text  # messages need the responses and their links

"""The customer page: profile (edited through the write path), every ticket with status/SLA and number,
messages, first/last contact, the company's other customers; linked from the ticket side panel."""

from __future__ import annotations

from deskbase.core.context import SYSTEM
from tests.web.conftest import WS, Console, csrf_of


def test_customer_page_shows_history_and_company(console: Console) -> None:
    core, ana = console.core, console.seed.customers["ana"]
    peer, _ = core.records.create(
        WS,
        "customers",
        {"data": {"name": "Carl Globex", "email": "carl@globex.example", "company": "globex"}},
        SYSTEM,
    )
    r = console.get(f"/w/{WS}/customers/{ana}")
    assert r.status_code == 200
    assert "<h1>Ana Garcia</h1>" in r.text
    export, invoice = console.ticket("export"), console.ticket("invoice")
    for t in (export, invoice):
        assert f"#{t['number']}</td>" in r.text and t["data"]["subject"] in r.text
    assert "All 2 tickets" in r.text and "2 (1 open)" in r.text
    assert "<dt>Messages</dt><dd>3</dd>" in r.text  # the export ticket's conversation
    assert 'class="chip' in r.text  # SLA chips beside the tickets
    assert "Others at Globex" in r.text and f"/w/{WS}/customers/{peer['id']}" in r.text
    assert "Ben Smith" not in r.text  # another company's customer, another customer's tickets
    assert "Login loop" not in r.text
    panel = console.get(console.ticket_url("export")).text
    assert f'href="/w/{WS}/customers/{ana}">All 2 tickets of Ana Garcia' in panel


def test_profile_edits_go_through_the_write_path_at_the_version_read(console: Console) -> None:
    ana = console.seed.customers["ana"]
    page = console.get(f"/w/{WS}/customers/{ana}").text
    version = console.core.records.get(WS, "customers", ana)["version"]
    form = {"name": "Ana G. Garcia", "email": "ana@globex.example", "company": "Globex", "plan": "pro"}
    r = console.post(f"/w/{WS}/customers/{ana}", {**form, "version": str(version)})
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=1")
    stored = console.core.records.get(WS, "customers", ana)
    assert stored["data"]["name"] == "Ana G. Garcia" and stored["data"]["plan"] == "pro"
    stale = console.post(f"/w/{WS}/customers/{ana}", {**form, "name": "Old", "version": str(version)})
    assert stale.status_code == 412 and 'role="alert"' in stale.text
    bad = console.post(
        f"/w/{WS}/customers/{ana}", {**form, "plan": "platinum", "version": str(stored["version"])}
    )
    assert bad.status_code == 422
    assert console.core.records.get(WS, "customers", ana)["data"]["name"] == "Ana G. Garcia"
    assert csrf_of(page)


def test_readers_without_write_see_no_form_and_cannot_post(console: Console) -> None:
    ana = console.seed.customers["ana"]
    raw, _ = console.core.tokens.create(
        "reader", [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "read:relationships"]}]
    )
    console.client.cookies.clear()
    assert console.sign_in(raw).status_code == 303
    page = console.get(f"/w/{WS}/customers/{ana}").text
    assert "Save profile" not in page and "Export to CSV fails" in page
    r = console.post(f"/w/{WS}/customers/{ana}", {"name": "X", "email": "x@y.io", "version": "1"})
    assert r.status_code == 403
    assert console.core.records.get(WS, "customers", ana)["data"]["name"] == "Ana Garcia"
    assert console.get(f"/w/{WS}/customers/nope").status_code == 404

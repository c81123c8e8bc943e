"""Creating a ticket for a customer: pick one, reuse one by email, or create one — atomically."""

from __future__ import annotations

import pytest

from tests.web.conftest import WS, Console


def totals(console: Console) -> tuple[int, int, int]:
    core = console.core
    links = core.relationships.linked(
        WS,
        "submitted_by",
        "tickets",
        [t["id"] for t in core.records.query(WS, "tickets", limit=1000)["data"]],
    )
    return core.records.count(WS, "tickets"), core.records.count(WS, "customers"), len(links)


def test_the_form_offers_the_schema_choices(console: Console) -> None:
    r = console.get(f"/w/{WS}/tickets/new")
    assert r.status_code == 200
    assert '<option value="urgent">Urgent</option>' in r.text and '<option value="enterprise">' in r.text
    assert 'id="customer-q"' in r.text


def test_customer_search(console: Console) -> None:
    r = console.get(f"/w/{WS}/customers/search?customer_query=glob", htmx=True)
    assert "Ana Garcia" in r.text and 'name="customer_id"' in r.text and "Ben" not in r.text
    r = console.get(f"/w/{WS}/customers/search?customer_query=ben@initech.example", htmx=True)
    assert "Ben Smith" in r.text
    assert "No customer matches" in console.get(f"/w/{WS}/customers/search?customer_query=zz", htmx=True).text


def test_create_for_an_existing_customer(console: Console) -> None:
    before = totals(console)
    r = console.post(
        f"/w/{WS}/tickets/new",
        {
            "customer_id": console.seed.customers["ben"],
            "subject": "Broken link",
            "status": "open",
            "priority": "high",
            "channel": "email",
            "tags": "docs",
        },
    )
    assert r.status_code == 303 and r.headers["location"].startswith(f"/w/{WS}/tickets/")
    page = console.get(r.headers["location"])
    assert 'value="Broken link"' in page.text and "Ben Smith" in page.text
    assert totals(console) == (before[0] + 1, before[1], before[2] + 1)


def test_an_existing_email_is_reused_never_duplicated(console: Console) -> None:
    before = totals(console)
    r = console.post(
        f"/w/{WS}/tickets/new",
        {
            "customer_email": "ana@globex.example",
            "customer_name": "Someone",
            "subject": "Hello",
            "status": "open",
            "priority": "low",
        },
    )
    assert r.status_code == 303
    assert "Ana Garcia" in console.get(r.headers["location"]).text
    assert totals(console) == (before[0] + 1, before[1], before[2] + 1)


def test_create_with_a_new_customer(console: Console) -> None:
    before = totals(console)
    r = console.post(
        f"/w/{WS}/tickets/new",
        {
            "customer_email": "cleo@hooli.example",
            "customer_name": "Cleo",
            "customer_plan": "pro",
            "customer_company": "Hooli",
            "subject": "Need SSO",
            "status": "open",
            "priority": "medium",
        },
    )
    assert r.status_code == 303
    page = console.get(r.headers["location"]).text
    assert "Cleo" in page and "Hooli" in page and "plan-pro" in page
    assert totals(console) == (before[0] + 1, before[1] + 1, before[2] + 1)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"subject": "", "priority": "low"}, "subject", "Subject can&#39;t be empty."),
        ({"subject": "x", "priority": "whenever"}, "priority", "is not one of"),
        ({"subject": "x", "priority": "low", "channel": "pigeon"}, "channel", "is not one of"),
        (
            {"subject": "x", "priority": "low", "customer_email": "not-an-email", "customer_name": "N"},
            "customer_email",
            "is not a",
        ),
        (
            {"subject": "x", "priority": "low", "customer_email": "new@x.example"},
            "customer_name",
            "needs a name",
        ),
        (
            {
                "subject": "x",
                "priority": "low",
                "customer_email": "n@x.example",
                "customer_name": "N",
                "customer_plan": "gold",
            },
            "customer_plan",
            "is not one of",
        ),
        ({"subject": "x", "priority": "low", "customer_email": ""}, "customer", "Pick a customer"),
        ({"subject": "x", "priority": "low", "customer_id": "gone"}, "customer", "no longer exists"),
    ],
)
def test_bad_input_is_shown_inline_and_writes_nothing(
    console: Console, form: dict, field: str, message: str
) -> None:
    body = {"status": "open", "customer_id": console.seed.customers["ana"], **form}
    if "customer_email" in form or form.get("customer_id") == "gone":
        body["customer_id"] = form.get("customer_id", "")
    before = totals(console)
    last = console.core.last_seq(WS)
    r = console.post(f"/w/{WS}/tickets/new", body)
    assert r.status_code == 422, r.text[:500]
    assert f'id="err-{field}" role="alert"' in r.text and message in r.text
    assert totals(console) == before and console.core.last_seq(WS) == last
    if form.get("subject"):
        assert f'value="{form["subject"]}"' in r.text  # what was typed is kept


def test_a_token_that_cannot_write_tickets_gets_a_403(console: Console) -> None:
    raw, _ = console.core.tokens.create(
        "reader", [{"scope": {"workspaces": [WS]}, "permissions": ["read:records"]}]
    )
    console.client.cookies.clear()
    console.sign_in(raw)
    assert console.get(f"/w/{WS}/tickets/new").status_code == 403
    before = totals(console)
    r = console.post(
        f"/w/{WS}/tickets/new",
        {"customer_id": console.seed.customers["ana"], "subject": "x", "status": "open", "priority": "low"},
    )
    assert r.status_code == 403 and totals(console) == before

"""Bulk changes from the queue: ticked tickets or all matching, one atomic batch, bad input changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import AGENT, WS, Console


def data(console: Console, key: str) -> dict[str, Any]:
    return console.ticket(key)["data"]


def versions(console: Console) -> dict[str, int]:
    return {k: console.ticket(k)["version"] for k in console.seed.tickets}


def bulk(console: Console, fields: dict[str, str], ids: list[str] | None = None) -> Any:
    """POST the bulk form as a browser does: the queue's echo of view and filters, ids repeated."""
    console.get(f"/w/{WS}/queue?view=all")
    body: dict[str, Any] = {
        "csrf": console.csrf(),
        "view": "all",
        "sort": "updated",
        **fields,
        "ids": ids or [],
    }
    return console.client.post(f"/w/{WS}/queue/bulk", data=body, follow_redirects=False)


def test_the_queue_has_tick_boxes_and_the_bulk_bar(console: Console) -> None:
    html = console.get(f"/w/{WS}/queue?view=all").text
    assert 'id="bulk"' in html and html.count('name="ids"') == 4 and 'form="bulk"' in html
    assert 'name="bulk_status"' in html and 'name="all" value="1"' in html and "All 4 matching" in html


def test_ticked_tickets_change_together(console: Console) -> None:
    ids = [console.seed.tickets["export"], console.seed.tickets["dark"]]
    r = bulk(console, {"bulk_status": "in_progress", "bulk_assignee": "bea@acme.example"}, ids)
    assert r.status_code == 303 and "done=2" in r.headers["location"]
    for key in ("export", "dark"):
        assert (data(console, key)["status"], data(console, key)["assignee"]) == (
            "in_progress",
            "bea@acme.example",
        )
    assert data(console, "login")["status"] == "waiting"  # not ticked: untouched
    page = console.get(r.headers["location"]).text
    assert "Updated 2 tickets." in page


def test_all_matching_follows_the_view_and_filters(console: Console) -> None:
    console.get(f"/w/{WS}/queue?view=open&category=bug")
    body = {"csrf": console.csrf(), "view": "open", "category": "bug", "all": "1", "bulk_priority": "low"}
    r = console.client.post(f"/w/{WS}/queue/bulk", data=body, follow_redirects=False)
    assert (
        r.status_code == 303 and "done=2" in r.headers["location"] and "category=bug" in r.headers["location"]
    )
    assert data(console, "export")["priority"] == "low" and data(console, "login")["priority"] == "low"
    assert data(console, "dark")["priority"] == "medium"  # a feature request: not matched


def test_unassign(console: Console) -> None:
    r = bulk(console, {"unassign": "1"}, [console.seed.tickets["export"]])
    assert r.status_code == 303 and "assignee" not in data(console, "export")


@pytest.mark.parametrize(
    ("fields", "ticked", "message"),
    [
        ({"bulk_status": "bogus"}, True, "&#39;bogus&#39; is not a status"),
        ({}, True, "Choose a change first"),
        ({"bulk_status": "resolved"}, False, "Tick the tickets to change first"),
        ({"bulk_assignee": "x" * 201}, True, "at most 200 characters"),
    ],
)
def test_bad_bulk_input_is_explained_and_changes_nothing(
    console: Console, fields: dict[str, str], ticked: bool, message: str
) -> None:
    before = versions(console)
    r = bulk(console, fields, [console.seed.tickets["export"]] if ticked else [])
    assert r.status_code == 422 and 'id="bulk-error" role="alert"' in r.text and message in r.text
    assert versions(console) == before
    if ticked:  # the tick survives the error
        assert f'value="{console.seed.tickets["export"]}" form="bulk" checked' in r.text


def test_one_bad_ticket_fails_the_whole_batch(console: Console) -> None:
    before = versions(console)
    r = bulk(console, {"bulk_status": "resolved"}, [console.seed.tickets["export"], "no-such-ticket"])
    assert r.status_code == 422 and "Nothing was changed" in r.text
    assert versions(console) == before


def test_too_many_matching_tickets_are_refused(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console.core.settings, "max_batch_operations", 3)
    before = versions(console)
    r = bulk(console, {"all": "1", "bulk_status": "closed"})
    assert r.status_code == 422 and "More than 3 tickets match" in r.text and versions(console) == before


def test_bulk_needs_write_permission_and_the_csrf_token(console: Console) -> None:
    grants = [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "read:relationships"]}]
    raw, _ = console.core.tokens.create("reader", grants)
    with TestClient(console.client.app) as client:
        reader = Console(client, console.core, raw, console.seed)
        reader.sign_in()
        html = reader.get(f"/w/{WS}/queue?view=all").text
        assert 'id="bulk"' not in html and 'name="ids"' not in html
        r = bulk(reader, {"bulk_status": "closed"}, [console.seed.tickets["export"]])
        assert r.status_code == 403
    no_csrf = console.client.post(
        f"/w/{WS}/queue/bulk", data={"bulk_status": "closed", "ids": console.seed.tickets["export"]}
    )
    assert no_csrf.status_code == 403 and data(console, "export")["status"] == "open"
    assert data(console, "export")["assignee"] == AGENT

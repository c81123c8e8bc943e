"""Issue #17 item 6: one click never loses work. Unlink, bulk changes and saved-view deletion offer Undo (a
toast whose form reverses the action through the normal write path); a bulk change of more than 50 tickets
is confirmed first, naming the count, and the server refuses it unconfirmed."""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

from fastapi.testclient import TestClient

from deskbase.core.context import SYSTEM
from tests.web.conftest import WS, Console
from tests.web.test_bulk import bulk, data
from tests.web.test_saved_views import QUEUE, save, saved_links


def toast_form(page: str) -> tuple[str, dict[str, str]]:
    """The toast's Undo form: where it posts and its hidden fields."""
    part = page.split('id="toast"')[1].split("</form>")[0]
    action = re.search(r'<form class="toast" method="post" action="([^"]+)"', part)
    assert action, "no undo toast on the page"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', part))
    return htmllib.unescape(action.group(1)), {k: htmllib.unescape(v) for k, v in fields.items()}


def press_undo(console: Console, page: str, htmx: bool = False) -> Any:
    action, fields = toast_form(page)
    fields["csrf"] = console.csrf()
    headers = {"HX-Request": "true"} if htmx else {}
    return console.client.post(action, data=fields, headers=headers, follow_redirects=False)


def related_links(console: Console) -> list[tuple[str, str]]:
    links = console.core.relationships.of_record(
        WS, "tickets", console.seed.tickets["export"], "related_to", "both"
    )["data"]
    return [(link["source"]["id"], link["target"]["id"]) for link in links]


def link(console: Console, source: str, target: str) -> str:
    r = console.post(
        console.ticket_url(source, "/related"), {"ticket": console.seed.tickets[target]}, htmx=True
    )
    m = re.search(r"/related/([^/]+)/unlink", r.text)
    assert m
    return m.group(1)


def test_an_unlink_is_undone_with_the_link_the_same_way_round(console: Console) -> None:
    export, login = console.seed.tickets["export"], console.seed.tickets["login"]
    rel = link(console, "login", "export")  # login → export; unlinked from the export ticket's page
    r = console.post(console.ticket_url("export", f"/related/{rel}/unlink"), htmx=True)
    number = console.ticket("login")["number"]
    assert r.status_code == 200 and f"Unlinked #{number} Login loop after reset." in r.text
    assert 'hx-swap-oob="true"' in r.text.split('id="toast"')[1][:200]
    assert related_links(console) == []
    again = press_undo(console, r.text, htmx=True)
    assert again.status_code == 200 and "Login loop after reset" in again.text.split('id="related"')[1]
    assert related_links(console) == [(login, export)]


def test_an_unlink_without_scripts_offers_undo_on_the_page_it_returns_to(console: Console) -> None:
    export, dark = console.seed.tickets["export"], console.seed.tickets["dark"]
    rel = link(console, "export", "dark")
    r = console.post(console.ticket_url("export", f"/related/{rel}/unlink"))
    assert r.status_code == 303 and "unlinked=" in r.headers["location"]
    page = console.get(r.headers["location"]).text
    assert "Unlinked #" in page and "Dark mode please." in page
    assert press_undo(console, page).status_code == 303
    assert related_links(console) == [(export, dark)]


def test_a_deleted_saved_view_comes_back_at_its_place(console: Console) -> None:
    save(console, "Bugs", category="bug")
    save(console, "Urgent", priority="urgent")
    body = {"csrf": console.csrf(), "name": "Bugs", "view": "all", "sort": "updated", "category": "bug"}
    r = console.client.post(f"{QUEUE}/views/delete", data=body, follow_redirects=False)
    assert r.status_code == 303
    page = console.get(r.headers["location"]).text
    assert saved_links(page) == ["Urgent"] and "Deleted the saved view “Bugs”." in page
    assert press_undo(console, page).status_code == 303
    page = console.get(QUEUE).text
    assert saved_links(page) == ["Bugs", "Urgent"]
    assert "category=bug" in page.split('id="saved-h"')[1].split("Urgent")[0]


def test_a_bulk_change_is_undone_on_the_tickets_it_changed_and_no_others(console: Console) -> None:
    ids = [console.seed.tickets[k] for k in ("export", "dark", "login")]
    console.core.records.patch(WS, "tickets", console.seed.tickets["login"], {"priority": "low"}, SYSTEM)
    r = bulk(console, {"bulk_priority": "low"}, ids)
    assert r.status_code == 303 and "undo=" in r.headers["location"]
    assert [data(console, k)["priority"] for k in ("export", "dark", "login")] == ["low"] * 3
    page = console.get(r.headers["location"]).text
    assert "Updated 3 tickets." in page
    # someone else changes one of them again before the undo: theirs is kept
    console.core.records.patch(WS, "tickets", console.seed.tickets["dark"], {"priority": "urgent"}, SYSTEM)
    back = press_undo(console, page)
    assert back.status_code == 303 and "restored=1" in back.headers["location"]
    done = console.get(back.headers["location"]).text
    assert "Undone: 1 ticket put back as they were; 1 changed again since and left as they are." in done
    assert data(console, "export")["priority"] == "high"  # put back
    assert data(console, "dark")["priority"] == "urgent"  # changed since: left alone
    assert data(console, "login")["priority"] == "low"  # it was low before the change: not a blind inverse
    # an undo is taken once
    twice = press_undo(console, page)
    assert twice.status_code == 410 and "can no longer be undone" in twice.text


def test_an_unset_field_is_unset_again(console: Console) -> None:
    ids = [console.seed.tickets["login"]]  # no assignee
    r = bulk(console, {"bulk_assignee": "bea@acme.example"}, ids)
    assert data(console, "login")["assignee"] == "bea@acme.example"
    assert press_undo(console, console.get(r.headers["location"]).text).status_code == 303
    assert data(console, "login").get("assignee") is None


def test_someone_else_cannot_take_my_undo(console: Console) -> None:
    r = bulk(console, {"bulk_status": "closed"}, [console.seed.tickets["export"]])
    page = console.get(r.headers["location"]).text
    action, fields = toast_form(page)
    grants = [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "write:records"]}]
    raw, _ = console.core.tokens.create("other", grants)
    with TestClient(console.client.app) as client:
        other = Console(client, console.core, raw, console.seed)
        other.sign_in()
        other.get(QUEUE)
        assert 'class="toast"' not in other.get(QUEUE + f"?done=1&undo={fields['undo']}").text
        refused = other.post(action, fields)
        assert refused.status_code == 410
    assert data(console, "export")["status"] == "closed"
    assert press_undo(console, page).status_code == 303 and data(console, "export")["status"] == "open"


def many(console: Console, n: int) -> None:
    for i in range(n):
        console.core.records.create(
            WS, "tickets", {"data": {"subject": f"Bulk {i}", "status": "open", "priority": "low"}}, SYSTEM
        )


def test_a_bulk_change_over_50_tickets_is_confirmed_naming_the_count(console: Console) -> None:
    many(console, 52)  # 3 open seeded + 52 = 55 open
    seq = console.core.last_seq(WS)
    console.get(f"{QUEUE}?view=open")
    body = {"csrf": console.csrf(), "view": "open", "all": "1", "bulk_status": "in_progress"}
    r = console.client.post(f"{QUEUE}/bulk", data=body, follow_redirects=False)
    assert r.status_code == 409 and "This changes <strong>55 tickets</strong>: status In progress." in r.text
    assert 'name="confirm" value="55"' in r.text and "Change 55 tickets" in r.text
    assert console.core.last_seq(WS) == seq  # nothing written
    # a confirmation of another count does not carry the change
    stale = console.client.post(f"{QUEUE}/bulk", data={**body, "confirm": "54"}, follow_redirects=False)
    assert stale.status_code == 409 and console.core.last_seq(WS) == seq
    ok = console.client.post(f"{QUEUE}/bulk", data={**body, "confirm": "55"}, follow_redirects=False)
    assert ok.status_code == 303 and "done=55" in ok.headers["location"]
    assert (
        console.core.records.count(
            WS, "tickets", {"field": "data.status", "op": "eq", "value": "in_progress"}
        )
        == 55
    )


def test_fifty_tickets_need_no_confirmation(console: Console) -> None:
    many(console, 47)  # 50 open
    console.get(f"{QUEUE}?view=open")
    body = {"csrf": console.csrf(), "view": "open", "all": "1", "bulk_priority": "medium"}
    r = console.client.post(f"{QUEUE}/bulk", data=body, follow_redirects=False)
    assert r.status_code == 303 and "done=50" in r.headers["location"]

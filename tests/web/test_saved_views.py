"""Saved views: a queue's view, sort and filters kept under a name, per user and per workspace."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.web.conftest import WS, Console
from tests.web.test_queue import subjects

QUEUE = f"/w/{WS}/queue"


def save(console: Console, name: str, **params: str) -> Any:
    console.get(QUEUE)
    body = {"csrf": console.csrf(), "name": name, "view": "all", "sort": "updated", **params}
    return console.client.post(f"{QUEUE}/views", data=body, follow_redirects=False)


def saved_links(html: str) -> list[str]:
    part = html.split('id="saved-h"')[1].split("</ul>")[0] if 'id="saved-h"' in html else ""
    return re.findall(r"<span>([^<]+)</span>", part)


def test_a_filtered_queue_can_be_saved_and_reopened(console: Console) -> None:
    page = console.get(f"{QUEUE}?view=all&category=bug").text
    assert "Save this view" in page and saved_links(page) == []
    r = save(console, "  Bugs   first ", category="bug")
    assert r.status_code == 303 and r.headers["location"] == f"{QUEUE}?view=all&sort=updated&category=bug"
    page = console.get(r.headers["location"]).text
    assert saved_links(page) == ["Bugs first"] and 'aria-current="page"><span>Bugs first' in page
    assert sorted(subjects(page)) == ["Export to CSV fails", "Login loop after reset"]
    assert "Delete this saved view" in page
    assert saved_links(console.get(QUEUE).text) == ["Bugs first"]  # listed on every queue page


def test_saving_under_the_same_name_replaces_and_delete_removes(console: Console) -> None:
    save(console, "Mine", category="bug")
    save(console, "Mine", priority="urgent")
    page = console.get(QUEUE).text
    assert saved_links(page) == ["Mine"] and "priority=urgent" in page.split('id="saved-h"')[1]
    body = {"csrf": console.csrf(), "name": "Mine", "view": "all", "sort": "updated", "priority": "urgent"}
    r = console.client.post(f"{QUEUE}/views/delete", data=body, follow_redirects=False)
    assert r.status_code == 303 and saved_links(console.get(QUEUE).text) == []


def test_bad_names_and_filters_are_explained(console: Console) -> None:
    for name, params, message in [
        ("", {"category": "bug"}, "Name the view"),
        ("x" * 61, {"category": "bug"}, "Name the view"),
        ("Broken", {"category": "nope"}, "Fix the filters"),
    ]:
        r = save(console, name, **params)
        assert r.status_code == 422 and 'id="view-name-error" role="alert"' in r.text and message in r.text
    assert saved_links(console.get(QUEUE).text) == []


def test_saved_views_are_per_user_and_per_workspace(console: Console) -> None:
    save(console, "Bugs", category="bug")
    grants = [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "read:relationships"]}]
    raw, _ = console.core.tokens.create("bea", grants)
    with TestClient(console.client.app) as client:
        other = Console(client, console.core, raw, console.seed)
        other.sign_in()
        assert saved_links(other.get(QUEUE).text) == []
    prefs = console.core.preferences.get(console.core.tokens.authenticate(console.token).id)
    assert list(prefs["views"]) == [WS]


def test_saving_needs_the_csrf_token(console: Console) -> None:
    r = console.client.post(f"{QUEUE}/views", data={"name": "x", "view": "all"}, follow_redirects=False)
    assert r.status_code == 403 and saved_links(console.get(QUEUE).text) == []


def test_only_the_saved_view_is_current_in_the_nav(console: Console) -> None:
    r = save(console, "Bugs", category="bug")
    nav = console.get(r.headers["location"]).text.split('id="views"')[1].split("</nav>")[0]
    assert nav.count('aria-current="page"') == 1 and 'aria-current="page"><span>Bugs' in nav

"""Issue #17 item 10: the ticket's timeline shows subject and tag edits beside the other field changes."""

from __future__ import annotations

import html as htmllib

from deskbase.core.context import SYSTEM
from tests.web.conftest import WS, Console


def timeline(console: Console, key: str) -> str:
    page = console.get(console.ticket_url(key)).text
    return htmllib.unescape(page.split('id="timeline"')[1].split("</section>")[0])


def test_subject_and_tag_edits_are_in_the_timeline(console: Console) -> None:
    r = console.post(console.ticket_url("dark", "/edit"), {"panel": "head", "subject": "Dark theme, please"})
    assert r.status_code == 303
    console.post(console.ticket_url("dark", "/edit"), {"panel": "props", "tags": "ui, design"})
    console.post(console.ticket_url("dark", "/edit"), {"panel": "props", "tags": "design"})
    text = timeline(console, "dark")
    assert "subject: “Dark mode please” → “Dark theme, please”" in text
    assert "tags: added design" in text
    assert "tags: removed ui" in text


def test_the_api_timeline_lists_them_too(console: Console) -> None:
    from deskbase.core.scope import ReadScope
    from deskbase.support import tickets

    tid = console.seed.tickets["login"]
    console.core.records.patch(WS, "tickets", tid, {"tags": ["sso"], "subject": "SSO login loop"}, SYSTEM)
    actor = console.core.tokens.authenticate(console.token)
    items = tickets.timeline(console.core, ReadScope(actor, WS), tid)
    [change] = [i for i in items if i["type"] == "changed"]
    assert change["fields"] == {
        "subject": {"from": "Login loop after reset", "to": "SSO login loop"},
        "tags": {"from": None, "to": ["sso"]},
    }

"""The console's own state (sessions, presence, drafts, saved views, read marks) and its writes on both stores:
one agent's round trip on SQLite and on PostgreSQL (skipped with a reason when PostgreSQL is absent)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.server import build
from deskbase.support.tickets import add_response
from tests.web.conftest import WS, Console, seed_workspace


@pytest.fixture
def store_console(tmp_path: Path, clock: FixedClock, store_url: str) -> Iterator[Console]:
    settings = Settings(
        reply_hold_seconds=0,
        data_dir=str(tmp_path),
        database_url=store_url,
        replicate=False,
        sla_scheduler=False,
    )
    core, app = build(settings, clock)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    seed = seed_workspace(core)
    with TestClient(app) as client:
        assert app.state.console.warmed()
        c = Console(client, core, raw, seed)
        assert c.sign_in().status_code == 303
        yield c


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_an_agent_round_trip(store_console: Console) -> None:
    c = store_console
    queue = c.get(f"/w/{WS}/queue?view=all").text
    assert "4 tickets" in queue
    c.get(c.ticket_url("export"))
    # presence and a draft, twice (the second beat updates the rows)
    for body in ("First words", "First words, then more"):
        beat = c.post(
            c.ticket_url("export", "/presence"),
            {"state": "replying", "body": body, "type": "reply"},
            htmx=True,
        )
        assert beat.status_code == 200 and "Draft saved" in beat.text
    assert "First words, then more</textarea>" in c.get(c.ticket_url("export")).text
    # a customer message marks the ticket as new to this agent; the reply clears it and the draft
    add_response(
        c.core, WS, c.seed.tickets["export"], {"body": "Hello?", "author": "ana@globex.example"}, SYSTEM
    )
    assert '<span class="new-mark"' in c.get(f"/w/{WS}/queue?view=all").text
    assert c.post(c.ticket_url("export", "/reply"), {"body": "Hi Ana", "type": "reply"}).status_code == 303
    page = c.get(c.ticket_url("export")).text
    assert "Hi Ana" in page and "First words" not in page
    assert '<span class="new-mark"' not in c.get(f"/w/{WS}/queue?view=all").text
    # a bulk change and a saved view
    c.get(f"/w/{WS}/queue?view=all")
    body: dict[str, Any] = {
        "csrf": c.csrf(),
        "view": "all",
        "bulk_priority": "low",
        "ids": list(c.seed.tickets.values()),
    }
    assert c.client.post(f"/w/{WS}/queue/bulk", data=body, follow_redirects=False).status_code == 303
    assert {t["data"]["priority"] for t in c.core.records.query(WS, "tickets", limit=10)["data"]} == {"low"}
    saved = {"csrf": c.csrf(), "name": "Low", "view": "all", "sort": "updated", "priority": "low"}
    assert c.client.post(f"/w/{WS}/queue/views", data=saved, follow_redirects=False).status_code == 303
    assert ">Low</span>" in c.get(f"/w/{WS}/queue").text

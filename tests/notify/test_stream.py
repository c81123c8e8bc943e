"""Live delivery over Server-Sent Events against a real uvicorn server running the notification loop: a new
notification arrives on the open stream, and a reconnect with Last-Event-ID gets what came in between."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from deskbase.config import Settings
from deskbase.core.context import SYSTEM
from deskbase.server import build
from tests.web.conftest import serving

WS = "acme"


@dataclass
class Live:
    url: str
    maria: str  #: her personal token
    tom: str
    maria_email: str


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("notify-live")
    core, app = build(Settings(data_dir=str(data), replicate=False, sla_scheduler=False))
    core.workspaces.put(WS, "Acme", None, SYSTEM)
    core.templates.apply(WS, "support", SYSTEM)
    tokens = {}
    for name in ("maria", "tom"):
        user = core.people.create(SYSTEM, {"email": f"{name}@acme.example", "name": name.title()})
        core.members.put(SYSTEM, WS, user["id"], "agent")
        tokens[name], _ = core.tokens.create(
            "personal", [{"scope": {"workspaces": [WS]}, "permissions": ["*"]}], user_id=user["id"]
        )
    with serving(app) as url:
        yield Live(url, tokens["maria"], tokens["tom"], "maria@acme.example")


def events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Parse an SSE line stream into {"id"?, "event", "data"} dicts (comments and `retry` skipped)."""
    current: dict[str, Any] = {}
    for line in lines:
        if not line:
            if "event" in current:
                yield current
            current = {}
        elif line.startswith(":") or line.startswith("retry:"):
            continue
        else:
            field, _, value = line.partition(": ")
            current[field] = json.loads(value) if field == "data" else value


def assign(live: Live, subject: str) -> str:
    with httpx.Client(
        base_url=f"{live.url}/v1/workspaces/{WS}", headers={"Authorization": f"Bearer {live.tom}"}
    ) as c:
        r = c.post(
            "/records/tickets", json={"data": {"subject": subject, "status": "open", "priority": "low"}}
        )
        assert r.status_code == 201, r.text
        tid = r.json()["id"]
        assert (
            c.patch(f"/records/tickets/{tid}", json={"data": {"assignee": live.maria_email}}).status_code
            == 200
        )
        return str(tid)


def next_of(stream: Iterator[dict[str, Any]], kind: str) -> dict[str, Any]:
    for ev in stream:
        if ev["event"] == kind:
            return ev
    raise AssertionError(f"the stream ended before a {kind} event")


def test_a_notification_arrives_live_and_a_reconnect_resumes(live: Live) -> None:
    path = f"{live.url}/v1/workspaces/{WS}/notifications/stream"
    headers = {"Authorization": f"Bearer {live.maria}"}
    timeout = httpx.Timeout(20.0)
    with httpx.stream("GET", path, headers=headers, timeout=timeout) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        stream = events(r.iter_lines())
        assert next_of(stream, "unread")["data"] == {"unread": 0}
        first_ticket = assign(live, "first")
        first = next_of(stream, "notification")
        assert first["data"]["kind"] == "assigned" and first["data"]["ticket_id"] == first_ticket
        assert first["id"] == first["data"]["id"]
        assert next_of(stream, "unread")["data"] == {"unread": 1}
    second_ticket = assign(live, "second")  # while nobody listens
    with httpx.stream("GET", path, headers={**headers, "Last-Event-ID": first["id"]}, timeout=timeout) as r:
        stream = events(r.iter_lines())
        got = next_of(stream, "notification")
        assert got["data"]["ticket_id"] == second_ticket and got["id"] > first["id"]


def test_another_workspace_gets_a_json_error_not_a_stream(live: Live) -> None:
    r = httpx.get(
        f"{live.url}/v1/workspaces/other/notifications/stream",
        headers={"Authorization": f"Bearer {live.maria}"},
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"

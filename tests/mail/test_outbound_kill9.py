"""kill -9 of a real server while replies are being sent: after a restart every queued reply reaches the SMTP
server, and only a message whose acceptance was not yet committed (one per mailbox lane: the documented
window) may arrive twice — with the same Message-ID, so the receiver drops the copy."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.mail.conftest import message
from tests.mail.sink import Got, sink
from tests.serverproc import serve

N = 40


def wait(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("not reached")


@pytest.mark.slow
def test_kill_9_while_sending(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        "DESKBASE_REPLICATE": "false",
        "DESKBASE_RATE_LIMIT_PER_SECOND": "0",
        "DESKBASE_MAIL_RETRY_SCHEDULE": "1,1,1",
        "DESKBASE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",  # the sink is on loopback (mail/guard.py)
    }

    def slow(_got: Got) -> str:
        time.sleep(0.03)  # each message takes a while: some are in flight when the server dies
        return "250 2.0.0 Ok"

    with sink() as s:
        s.answer(slow)
        with serve(data, "/v1/workspaces", env) as (client, proc):
            assert client.put("/acme", json={"name": "Acme"}).status_code == 201
            assert client.post("/acme/templates/support").status_code == 200
            box = {"address": "support@acme.test", "outbound": s.outbound()}
            assert client.put("/acme/mailboxes/support", json=box).status_code == 201
            tickets = []
            for i in range(N):
                raw = message(subject=f"Problem {i}", sender=f"c{i}@example.com").as_bytes()
                r = client.post(
                    "/acme/mailboxes/support/inbound", content=raw, headers={"Content-Type": "message/rfc822"}
                )
                assert r.status_code == 201, r.text
                tickets.append(r.json()["ticket_id"])
            for tid in tickets:
                r = client.post(
                    f"/acme/tickets/{tid}/responses", json={"body": f"answer to {tid}", "type": "reply"}
                )
                assert r.status_code == 201
            wait(lambda: len(s.received) >= 10)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        killed_at = len(s.received)
        assert killed_at < N  # the kill came while messages were still going out

        with serve(data, "/v1/workspaces", env) as (client, _):

            def rows() -> list[dict[str, Any]]:
                return client.get("/acme/mailboxes/support/outbox", params={"limit": 1000}).json()["data"]

            wait(lambda: len(rows()) == N and all(r["status"] == "sent" for r in rows()))
            sent = {r["message_id"] for r in rows()}
    counts = Counter(g.message_id for g in s.received)
    assert set(counts) == sent  # every reply arrived
    assert sum(c - 1 for c in counts.values()) <= 1  # a copy only of the one in flight at the kill

"""kill -9 with deliveries pending loses none, and re-sends none that were acknowledged (a real server)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.events.receiver import Receiver
from tests.serverproc import serve as running

T = {"subject": "s", "status": "open", "priority": "low"}


@contextmanager
def serve(data: Path) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    env = {
        "DESKBASE_REPLICATE": "false",
        "DESKBASE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "DESKBASE_WEBHOOK_RETRY_SCHEDULE": ",".join(["0.5"] * 50),
    }
    with running(data, "/v1/workspaces", env) as out:
        yield out


def delivered(client: httpx.Client) -> set[str]:
    rows = client.get("/acme/triggers/t/deliveries", params={"limit": 1000, "status": "delivered"}).json()[
        "data"
    ]
    return {d["event_id"] for d in rows}


def wait(check: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("not reached")


@pytest.mark.slow
def test_kill_9_with_pending_deliveries(tmp_path: Path, receiver: Receiver) -> None:
    data = tmp_path / "data"
    acked: set[str] = set()
    with serve(data) as (client, proc):
        assert client.put("/acme", json={"name": "Acme"}).status_code == 201
        assert client.post("/acme/templates/support").status_code == 200
        assert (
            client.put(
                "/acme/triggers/t", json={"url": receiver.url, "events": ["record.created"]}
            ).status_code
            == 201
        )
        for _ in range(5):
            client.post("/acme/records/tickets", json={"data": T})
        wait(lambda: len(delivered(client)) == 5)
        acked = delivered(client)
        receiver.reply = lambda _r: (503, {})  # from now on the receiver is down: deliveries stay pending
        for _ in range(20):
            client.post("/acme/records/tickets", json={"data": T})
        wait(lambda: len(receiver.received) >= 7)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    # Killed with 20 deliveries unacknowledged (each tried and answered 503, or still queued or unread).

    receiver.reply = lambda _r: (200, {})
    with serve(data) as (client, _):
        wait(lambda: len(delivered(client)) == 25)
    counts = Counter(r.json["id"] for r in receiver.received)
    assert len(counts) == 25  # every event arrived
    assert all(counts[e] == 1 for e in acked)  # none acknowledged before the kill came again

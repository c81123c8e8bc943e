"""kill -9 with deliveries pending loses none, and re-sends none that were acknowledged (a real server)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.events.receiver import Receiver

T = {"subject": "s", "status": "open", "priority": "low"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(data: Path) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {
        **os.environ,
        "DESKBASE_DATA_DIR": str(data),
        "DESKBASE_PORT": str(port),
        "DESKBASE_LOG_LEVEL": "warning",
        "DESKBASE_REPLICATE": "false",
        "DESKBASE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "DESKBASE_WEBHOOK_RETRY_SCHEDULE": ",".join(["0.5"] * 50),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "deskbase.cli.main", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "server died"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        token = (data / "admin-token").read_text().strip()
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}/v1/workspaces",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as client:
            yield client, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


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

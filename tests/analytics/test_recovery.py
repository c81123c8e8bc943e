"""Crash recovery of the replica with real server processes (chDB allows one data path per process)."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import httpx
import pytest
from tests.serverproc import serve as server

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.context import SYSTEM
from deskbase.support.install import install

COUNT = "SELECT count() FROM records FINAL WHERE collection = 'tickets' AND NOT deleted"
T = {"subject": "s", "status": "open", "priority": "low"}


def count(client: httpx.Client) -> int:
    """The live ticket count, as a client honouring `503 replica_lagging` + Retry-After would read it (a busy
    machine may need more than the server's 2 s wait to replay a restart's backlog; catching up is the point)."""
    for _ in range(30):
        r = client.post("/workspaces/acme/sql", json={"query": COUNT})
        if r.status_code != 503 or r.json()["error"]["code"] != "replica_lagging":
            break
        time.sleep(float(r.headers.get("Retry-After", "1")))
    assert r.status_code == 200, r.text
    return int(r.json()["data"][0][0])


@pytest.mark.slow
def test_kill_9_then_restart_catches_up_and_a_lost_replica_is_rebuilt(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with server(data) as (client, proc):
        client.put("/workspaces/acme", json={"name": "Acme"})
        client.post("/workspaces/acme/templates/support")
        ops = [{"type": "upsert_record", "collection": "tickets", "data": T}] * 300
        assert client.post("/workspaces/acme/batch", json={"operations": ops}).status_code == 200
        assert count(client) == 300
        for _ in range(20):
            client.post("/workspaces/acme/records/tickets", json={"data": T})
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    # While no server runs, more writes land in the primary store only: the replica is now behind.
    core = Deskbase.open(Settings(data_dir=str(data)))
    install(core)
    core.batch.run("acme", [{"type": "upsert_record", "collection": "tickets", "data": T}] * 50, SYSTEM)
    core.close()

    with server(data) as (client, _):
        assert count(client) == 370
        assert client.get("/admin/analytics/verify").json()["ok"] is True

    shutil.rmtree(data / "chdb")
    with server(data) as (client, _):
        assert count(client) == 370
        assert client.get("/admin/analytics/verify").json()["ok"] is True

    shutil.rmtree(data / "chdb")
    (data / "chdb").write_text("not a database")  # damaged beyond use: moved aside, rebuilt
    with server(data) as (client, _):
        assert count(client) == 370
    assert any(p.name.startswith("chdb.broken-") for p in data.iterdir())

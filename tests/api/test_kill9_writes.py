"""kill -9 of a real server while 8 clients write: every write it acknowledged is in the store after a restart,
and nothing it did not acknowledge is half there. Group commit answers only after the shared fsync, so this
holds with it on (the default)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.support.install import install
from tests.serverproc import serve

T = {"subject": "s", "status": "open", "priority": "low"}


@pytest.mark.slow
def test_every_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    with serve(data, env={"DESKBASE_REPLICATE": "false", "DESKBASE_RATE_LIMIT_PER_SECOND": "0"}) as (
        client,
        proc,
    ):
        assert client.put("/workspaces/acme", json={"name": "Acme"}).status_code == 201
        assert client.post("/workspaces/acme/templates/support").status_code == 200
        base, headers = str(client.base_url), dict(client.headers)

        def writer(n: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=10) as c:
                i = 0
                while not stop.is_set():
                    try:
                        r = c.post(
                            "/workspaces/acme/records/tickets",
                            json={"data": {**T, "subject": f"w{n}-{i}"}},
                        )
                    except httpx.HTTPError:
                        return  # the server is gone: this write was never acknowledged
                    if r.status_code == 201:
                        with lock:
                            acknowledged.append(r.json()["id"])
                    i += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for th in threads:
            th.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        stop.set()
        for th in threads:
            th.join(timeout=30)
    assert len(acknowledged) >= 150
    core = Deskbase.open(Settings(data_dir=str(data), replicate=False))
    install(core)
    try:
        with core.db.read() as conn:
            stored = {
                r[0]
                for r in conn.exec_driver_sql(
                    "SELECT id FROM records WHERE workspace_id = 'acme' AND collection = 'tickets'"
                )
            }
            logged = {
                r[0]
                for r in conn.exec_driver_sql(
                    "SELECT entity_id FROM changes WHERE workspace_id = 'acme' AND entity = 'record'"
                    " AND collection = 'tickets'"
                )
            }
    finally:
        core.close()
    assert set(acknowledged) <= stored
    assert stored == logged  # no record without its change-log entry, and none the other way round

"""`webhook_deliveries` reaches the SQL replica (metadata only, no payloads)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.server import build
from tests.conftest import Api
from tests.events.receiver import Receiver

T = {"subject": "s", "status": "open", "priority": "low"}


def test_deliveries_are_queryable_with_sql(
    tmp_path: Path, live_clock: FixedClock, chdb_engine: Any, receiver: Receiver
) -> None:
    settings = Settings(data_dir=str(tmp_path), sla_scheduler=False, webhook_allow_networks="127.0.0.0/8")
    core, app = build(settings, live_clock, engine=chdb_engine)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, raw)
        api.put("/v1/workspaces/acme", json={"name": "Acme"})
        api.post("/v1/workspaces/acme/templates/support")
        api.put("/v1/workspaces/acme/triggers/t", json={"url": receiver.url, "events": ["record.created"]})
        for _ in range(3):
            api.post("/v1/workspaces/acme/records/tickets", json={"data": T})
        receiver.wait_for(3)
        query = (
            "SELECT status, count() AS n FROM webhook_deliveries FINAL WHERE trigger_id = 't' GROUP BY status"
        )
        deadline = time.monotonic() + 30
        while True:
            # Delivery state reaches the replica with the next write to the store.
            api.post(
                "/v1/workspaces/acme/records/customers", json={"data": {"name": "Ada", "email": "a@x.io"}}
            )
            r = api.post("/v1/workspaces/acme/sql", json={"query": query})
            assert r.status_code == 200, r.text
            if r.json()["data"] == [["delivered", 3]]:
                break
            assert time.monotonic() < deadline, r.json()
            time.sleep(0.2)
        cols = api.post("/v1/workspaces/acme/sql", json={"query": "SELECT * FROM webhook_deliveries LIMIT 1"})
        assert "payload" not in [m["name"] for m in cols.json()["meta"]]

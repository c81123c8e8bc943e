"""Change times under concurrency and in import mode, on both stores: a writer that waited for the write lock
never dates its change before the change it waited for (no 5xx, every acknowledged change kept, SLA state
equal to a replay), and an explicit `at` earlier than a record's current version is refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from deskbase.config import Settings
from deskbase.core.clock import parse_iso
from deskbase.server import build
from deskbase.support import tables as ts
from deskbase.support.service import SlaService
from tests.conftest import Api

W = "/v1/workspaces/acme"
WRITERS = 32
EACH = 3


@pytest.fixture
def live_api(tmp_path: Path, store_url: str) -> Iterator[Api]:
    """The API on the system clock (the race needs time to move) on SQLite or PostgreSQL."""
    settings = Settings(data_dir=str(tmp_path), database_url=store_url, replicate=False, sla_scheduler=False)
    core, app = build(settings)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        a = Api(client, raw)
        a.core = core  # type: ignore[attr-defined]
        assert a.put(W, json={"name": "Acme"}).status_code == 201
        assert a.post(f"{W}/templates/support").status_code == 200
        yield a


def _ticket(api: Api) -> dict[str, Any]:
    r = api.post(f"{W}/records/tickets", json={"data": {"subject": "s", "status": "open", "priority": "low"}})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _sla_rows(api: Api, ticket_id: str) -> set[tuple[Any, ...]]:
    si = ts.sla_instances
    with api.core.db.read() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            select(si.c.metric, si.c.cycle, si.c.restarts, si.c.state, si.c.target_at).where(
                si.c.ticket_id == ticket_id, si.c.deleted.is_(False)
            )
        ).all()
    return {tuple(r) for r in rows}


def test_concurrent_writers_on_one_ticket(live_api: Api) -> None:
    api = live_api
    ticket = _ticket(api)
    url = f"{W}/records/tickets/{ticket['id']}"
    acked: dict[int, str] = {}
    failures: list[str] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        for k in range(EACH):
            body: dict[str, Any] = {"data": {"subject": f"w{n}-{k}"}}
            if k == 1:
                body = {"data": {"priority": ["low", "medium", "high", "urgent"][n % 4]}}
            r = (
                api.post(f"{W}/tickets/{ticket['id']}/responses", json={"body": f"m{n}", "author": "a"})
                if k == 2
                else api.patch(url, json=body)
            )
            with lock:
                if r.status_code >= 300:
                    failures.append(f"{r.status_code} {r.text[:200]}")
                elif k != 2:
                    acked[r.json()["version"]] = r.json()["updated_at"]

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert failures == []
    history = api.get(f"{url}/history", params={"limit": 1000}).json()["data"]
    versions = [h["version"] for h in history]
    assert set(acked) <= set(versions)
    times = [parse_iso(h["at"]) for h in history]
    assert times == sorted(times), "a version is dated before the one before it"
    assert len(api.get(f"{W}/tickets/{ticket['id']}/responses").json()["data"]) == WRITERS
    stored = _sla_rows(api, ticket["id"])
    assert stored
    api.core.extensions[SlaService].rebuild("acme")  # type: ignore[attr-defined]
    assert _sla_rows(api, ticket["id"]) == stored


def test_a_back_dated_change_is_refused_and_changes_nothing(live_api: Api) -> None:
    api = live_api
    ticket = _ticket(api)
    customer = api.post(f"{W}/records/customers", json={"data": {"name": "C", "email": "c@x.io"}}).json()
    for coll, rec in (("tickets", ticket), ("customers", customer)):
        url = f"{W}/records/{coll}/{rec['id']}"
        for method, body in (
            ("PATCH", {"data": {"name": "D"} if coll == "customers" else {"subject": "x"}}),
        ):
            r = api.request(method, url, json={**body, "at": "2020-01-01T00:00:00Z"})
            assert r.status_code == 409, r.text
            err = r.json()["error"]
            assert err["code"] == "conflict" and err["details"]["current_updated_at"] == rec["updated_at"]
        r = api.request("DELETE", url, params={"at": "2020-01-01T00:00:00Z"})
        assert r.status_code in (409, 422), r.text
        after = api.get(url).json()
        assert after["version"] == rec["version"] and after["updated_at"] >= after["created_at"]
    ops = [
        {
            "type": "patch_record",
            "collection": "tickets",
            "id": ticket["id"],
            "data": {"subject": "y"},
            "at": "2020-01-01T00:00:00Z",
        }
    ]
    r = api.post(f"{W}/batch", json={"operations": ops})
    assert r.status_code == 409 and r.json()["error"]["details"]["operation_index"] == 0
    r = api.post(
        f"{W}/records/customers",
        json={
            "data": {"name": "E", "email": "e@x.io"},
            "at": "2021-01-01T00:00:00Z",
            "created_at": "2022-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 422 and r.json()["error"]["details"]["errors"][0]["pointer"] == "/created_at"
    # a change dated at or after the current version is fine (import mode)
    later = api.patch(
        f"{W}/records/tickets/{ticket['id']}", json={"data": {"subject": "z"}, "at": "2099-01-01T00:00:00Z"}
    )
    assert later.status_code == 200 and later.json()["updated_at"] == "2099-01-01T00:00:00.000Z"

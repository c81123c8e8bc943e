"""The SLA attainment report shipped as a stored query runs on the SQL replica and agrees with the SLA
service's own aggregation on the primary store (same instances, same period bounds, deleted left out)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deskbase.core.clock import FixedClock, iso
from deskbase.support.service import SlaService
from tests.conftest import Api

W = "/v1/workspaces/acme"
MON = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ticket(api: Api, priority: str) -> str:
    body = {"data": {"subject": "VPN down", "status": "open", "priority": priority}}
    return str(api.post(f"{W}/records/tickets", json=body).json()["id"])


def ch_time(at: datetime) -> str:
    return iso(at)


def test_the_attainment_report_matches_the_service(sql_api: Api, clock: FixedClock) -> None:
    api = sql_api
    clock.set(MON)
    assert api.put(W, json={"name": "Acme"}).status_code == 201
    assert api.post(f"{W}/templates/support").status_code == 200
    tickets = {p: [ticket(api, p) for _ in range(3)] for p in ("urgent", "high", "low")}
    clock.advance(minutes=20)
    for p in ("urgent", "high", "low"):  # one reply in time for each priority
        api.post(f"{W}/tickets/{tickets[p][0]}/responses", json={"body": "on it"})
    clock.advance(hours=5)
    api.core.extensions[SlaService].run_due()  # type: ignore[attr-defined]
    for p in ("urgent", "high"):  # late replies: breached
        api.post(f"{W}/tickets/{tickets[p][1]}/responses", json={"body": "sorry"})
    api.delete(f"{W}/records/tickets/{tickets['urgent'][2]}")
    api.patch(f"{W}/records/tickets/{tickets['high'][0]}", json={"data": {"status": "resolved"}})
    start, end = MON, MON + timedelta(days=1)
    primary = api.get(f"{W}/sla/attainment", params={"start": iso(start), "end": iso(end)}).json()["data"]
    assert {(r["metric"], r["priority"]) for r in primary} >= {("first_response", "urgent")}
    run = api.post(
        f"{W}/queries/sla_attainment/run", json={"params": {"start": ch_time(start), "end": ch_time(end)}}
    )
    assert run.status_code == 200, run.text
    names = [m["name"] for m in run.json()["meta"]]
    replica = [dict(zip(names, row, strict=True)) for row in run.json()["data"]]
    key = ("metric", "priority", "total", "achieved", "breached")
    assert sorted(tuple(r[k] for k in key) for r in replica) == sorted(
        tuple(r[k] for k in key) for r in primary
    )
    assert [round(float(r["attainment"]), 4) for r in replica] == [
        r["attainment"] for r in sorted(primary, key=lambda r: (r["metric"], r["priority"]))
    ]
    later = api.post(
        f"{W}/queries/sla_attainment/run",
        json={"params": {"start": ch_time(end), "end": ch_time(end + timedelta(days=1))}},
    ).json()
    assert later["data"] == []

"""The SQL endpoint over the live replica: the seed queries verbatim, read-your-writes, isolation, stored
queries, rebuild and verify. Expectations are computed independently from the primary store."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from tests.conftest import SEED, Api

W = "/v1/workspaces/acme"
OPEN = ("open", "in_progress", "waiting")


def sql(api: Api, query: str, ws: str = "acme", **kw: Any) -> Any:
    return api.post(f"/v1/workspaces/{ws}/sql", json={"query": query, **kw})


def rows(resp: Any) -> list[list[Any]]:
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


@pytest.fixture
def story(sql_api: Api) -> dict[str, Any]:
    """Random tickets and customers, then updates, deletions and re-pointed submitted_by links."""
    api = sql_api
    assert api.put(W, json={"name": "Acme"}).status_code == 201
    assert api.post(f"{W}/templates/support").status_code == 200
    rng = random.Random(7)
    ops: list[dict[str, Any]] = []
    for i in range(30):
        ops.append(
            {
                "type": "upsert_record",
                "collection": "customers",
                "id": f"c{i}",
                "data": {
                    "name": f"C{i}",
                    "email": f"c{i}@x.io",
                    "plan": rng.choice(["free", "pro", "enterprise"]),
                },
            }
        )
    for i in range(150):
        data = {
            "subject": f"T{i}",
            "status": rng.choice(["open", "in_progress", "waiting", "resolved", "closed"]),
            "priority": rng.choice(["low", "medium", "high", "urgent"]),
            "category": rng.choice(["bug", "question", "billing"]),
            "channel": rng.choice(["email", "chat", "web"]),
        }
        if rng.random() < 0.8:
            data["assignee"] = rng.choice(["ann", "bob", "cyd"])
        ops.append({"type": "upsert_record", "collection": "tickets", "id": f"t{i}", "data": data})
        ops.append(
            {
                "type": "upsert_relationship",
                "rel_type": "submitted_by",
                "source": {"collection": "tickets", "id": f"t{i}"},
                "target": {"collection": "customers", "id": f"c{rng.randrange(30)}"},
            }
        )
    assert api.post(f"{W}/batch", json={"operations": ops}).status_code == 200
    for i in range(0, 150, 7):
        api.patch(f"{W}/records/tickets/t{i}", json={"data": {"status": "closed", "priority": "urgent"}})
    for i in range(3, 150, 11):
        api.delete(f"{W}/records/tickets/t{i}")
    for i in range(5, 150, 13):
        api.post(
            f"{W}/relationships",
            json={
                "rel_type": "submitted_by",
                "replace": True,
                "source": {"collection": "tickets", "id": f"t{i}"},
                "target": {"collection": "customers", "id": f"c{(i * 3) % 30}"},
            },
        )
    api.delete(f"{W}/records/customers/c2")
    return {"api": api}


def primary(api: Api) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], dict[str, str]]:
    core = api.core  # type: ignore[attr-defined]
    tickets = core.records.query("acme", "tickets", limit=1000)["data"]
    customers = {c["id"]: c for c in core.records.query("acme", "customers", limit=1000)["data"]}
    links = {}
    for t in tickets:
        out = core.relationships.of_record("acme", "tickets", t["id"], "submitted_by")["data"]
        if out:
            links[t["id"]] = out[0]["target"]["id"]
    return tickets, customers, links


def seed_query(name: str) -> str:
    return (SEED / "queries" / f"{name}.sql").read_text()


def test_seed_queries_verbatim_match_the_primary_store(story: dict[str, Any]) -> None:
    api = story["api"]
    tickets, customers, links = primary(api)

    got = {r[0]: r[1] for r in rows(sql(api, seed_query("open_tickets_by_priority")))}
    assert got == dict(Counter(t["data"]["priority"] for t in tickets if t["data"]["status"] in OPEN))

    got = {(r[0], r[1]): r[2] for r in rows(sql(api, seed_query("tickets_by_category_and_channel")))}
    assert got == dict(Counter((t["data"].get("category"), t["data"].get("channel")) for t in tickets))

    result = rows(sql(api, seed_query("agent_workload")))
    active = [t for t in tickets if t["data"]["status"] in ("open", "in_progress")]
    assert {r[0]: (r[1], r[2]) for r in result} == {
        a: (
            sum(1 for t in active if t["data"].get("assignee") == a),
            sum(1 for t in active if t["data"].get("assignee") == a and t["data"]["priority"] == "urgent"),
        )
        for a in {t["data"].get("assignee") for t in active}
    }
    assert [r[1] for r in result] == sorted((r[1] for r in result), reverse=True)

    got = {r[0]: r[1] for r in rows(sql(api, seed_query("tickets_by_customer_plan")))}
    expected = Counter(
        customers[links[t["id"]]]["data"].get("plan")
        for t in tickets
        if t["id"] in links and links[t["id"]] in customers
    )
    assert got == dict(expected)


def test_stored_seed_queries_run_by_name(story: dict[str, Any]) -> None:
    api = story["api"]
    names = {q["name"] for q in api.get(f"{W}/queries").json()["data"]}
    assert names == {
        "open_tickets_by_priority",
        "tickets_by_category_and_channel",
        "agent_workload",
        "tickets_by_customer_plan",
        "sla_attainment",
        "tickets_created_vs_solved",
        "first_response_times",
        "sla_attainment_by_plan",
        "tickets_by_weekday_and_hour",
    }
    by_name = api.post(f"{W}/queries/open_tickets_by_priority/run", json={}).json()
    direct = sql(api, seed_query("open_tickets_by_priority")).json()
    assert by_name["data"] == direct["data"]
    saved = api.put(
        f"{W}/queries/by-status",
        json={
            "query": "SELECT count() FROM records FINAL WHERE "
            "collection = 'tickets' AND NOT deleted AND data.status.:String = {s:String}",
            "params": {"s": "open"},
        },
    )
    assert saved.status_code == 201
    n_open = api.post(f"{W}/queries/by-status/run", json={}).json()["data"][0][0]
    n_closed = api.post(f"{W}/queries/by-status/run", json={"params": {"s": "closed"}}).json()["data"][0][0]
    tickets, _, _ = primary(api)
    assert (n_open, n_closed) == (
        sum(t["data"]["status"] == "open" for t in tickets),
        sum(t["data"]["status"] == "closed" for t in tickets),
    )
    bad = api.put(f"{W}/queries/evil", json={"query": "SELECT * FROM system.tables"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "query_rejected"


@pytest.mark.slow
def test_read_your_writes_200_times(sql_api: Api) -> None:
    api = sql_api
    api.put(W, json={"name": "Acme"})
    api.post(f"{W}/templates/support")
    q = "SELECT count() FROM records FINAL WHERE collection = 'tickets' AND deleted = false"
    for i in range(200):
        r = api.post(
            f"{W}/records/tickets", json={"data": {"subject": f"s{i}", "status": "open", "priority": "low"}}
        )
        assert r.status_code == 201
        assert rows(sql(api, q)) == [[i + 1]], f"stale read after write {i}"


def test_other_workspaces_are_invisible(sql_api: Api) -> None:
    api = sql_api
    for ws in ("acme", "rival"):
        api.put(f"/v1/workspaces/{ws}", json={"name": ws})
        api.post(f"/v1/workspaces/{ws}/templates/support")
    api.post(
        "/v1/workspaces/rival/records/tickets",
        json={"data": {"subject": "secret", "status": "open", "priority": "urgent"}},
    )
    q = "SELECT count() FROM records WHERE collection = 'tickets'"
    assert rows(sql(api, q)) == [[0]]
    for attack in (
        "SELECT * FROM ws_rival.records",
        "SELECT * FROM merge('ws_rival', '.*')",
        "SELECT * FROM records WHERE id IN (SELECT id FROM ws_rival.records)",
    ):
        r = sql(api, attack)
        assert r.status_code == 400 and r.json()["error"]["code"] == "query_rejected", attack
    r = sql(
        api,
        "SELECT count() FROM records WHERE workspace_id = {workspace_id:String}",
        params={"workspace_id": "rival"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "query_rejected"


def test_formats_errors_and_truncation(sql_api: Api) -> None:
    api = sql_api
    api.put(W, json={"name": "Acme"})
    api.post(f"{W}/templates/support")
    csv = sql(api, "SELECT 1 AS a, 'x' AS b", format="csv")
    assert csv.status_code == 200 and csv.text.splitlines() == ["a,b", "1,x"]
    nd = sql(api, "SELECT 1 AS a", format="ndjson")
    assert nd.text.strip() == '{"a":1}'
    err = sql(api, "SELECT nope FROM records")
    assert err.status_code == 400 and err.json()["error"]["code"] == "query_error"
    assert "/tmp" not in err.text and "deskbase" not in err.json()["error"]["message"].lower()
    assert sql(api, "SELECT 1", ws="nowhere").status_code == 404


def test_rebuild_and_verify(story: dict[str, Any]) -> None:
    api = story["api"]
    v = api.get("/v1/admin/analytics/verify").json()
    assert v["ok"] is True and v["differences"] == []
    before = rows(sql(api, seed_query("tickets_by_customer_plan")))
    r = api.post("/v1/admin/analytics/rebuild").json()
    assert r["replayed_changes"] > 0
    assert rows(sql(api, seed_query("tickets_by_customer_plan"))) == before
    assert api.get("/v1/admin/analytics/verify").json()["ok"] is True
    # A divergence is reported: remove rows behind the replica's back.
    api.analytics.engine.execute("DELETE FROM ws_acme.records WHERE collection = 'customers'")  # type: ignore[attr-defined]
    bad = api.get("/v1/admin/analytics/verify").json()
    assert bad["ok"] is False and any(d.get("collection") == "customers" for d in bad["differences"])


def test_sla_tables_reach_the_replica(sql_api: Api) -> None:
    api = sql_api
    api.put(W, json={"name": "Acme"})
    api.post(f"{W}/templates/support")
    tid = api.post(
        f"{W}/records/tickets", json={"data": {"subject": "s", "status": "open", "priority": "urgent"}}
    ).json()["id"]
    api.post(f"{W}/tickets/{tid}/responses", json={"body": "hi", "author": "maria"})
    got = rows(
        sql(
            api,
            "SELECT metric, state, priority FROM sla_instances FINAL WHERE ticket_id = {t:String} "
            "AND NOT deleted ORDER BY metric",
            params={"t": tid},
        )
    )
    assert got == [
        ["first_resolution", "active", "urgent"],
        ["first_response", "achieved", "urgent"],
        ["resolution", "active", "urgent"],
    ]
    got = rows(
        sql(
            api,
            "SELECT agent_replies, awaiting FROM ticket_metrics FINAL WHERE ticket_id = {t:String}",
            params={"t": tid},
        )
    )
    assert got == [[1, "customer"]]
    kinds = rows(
        sql(
            api,
            "SELECT kind FROM sla_events FINAL WHERE ticket_id = {t:String} AND NOT deleted "
            "AND metric = 'first_response' ORDER BY at, kind",
            params={"t": tid},
        )
    )
    assert ["fulfil"] in kinds and ["activate"] in kinds

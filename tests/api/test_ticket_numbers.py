"""Ticket numbers through the public interfaces: on the record image, by number, in filters and in SQL."""

from __future__ import annotations

from tests.conftest import Api

W = "/v1/workspaces/acme"
T = {"subject": "s", "status": "open", "priority": "low"}


def test_numbers_over_http_and_sql(sql_api: Api) -> None:
    api = sql_api
    assert api.put(W, json={"name": "Acme"}).status_code == 201
    assert api.post(f"{W}/templates/support").status_code == 200
    made = [
        api.post(f"{W}/records/tickets", json={"data": {**T, "subject": f"t{i}"}}).json() for i in range(3)
    ]
    assert [m["number"] for m in made] == [1, 2, 3]
    got = api.get(f"{W}/tickets/by-number/2")
    assert got.status_code == 200 and got.json()["id"] == made[1]["id"] and "sla" in got.json()
    assert got.headers["ETag"] == f'"{made[1]["version"]}"'
    missing = api.get(f"{W}/tickets/by-number/99")
    assert missing.status_code == 404 and missing.json()["error"]["details"]["number"] == 99
    assert api.get(f"{W}/tickets/by-number/0").status_code in (400, 422)
    found = api.get(f"{W}/records/tickets", params={"filter": '{"field": "number", "op": "eq", "value": 3}'})
    assert [r["id"] for r in found.json()["data"]] == [made[2]["id"]]
    imported = api.post(f"{W}/records/tickets", json={"data": T, "number": 1042})
    assert imported.status_code == 201 and imported.json()["number"] == 1042
    taken = api.post(f"{W}/records/tickets", json={"data": T, "number": 1042})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "conflict"
    rows = api.post(
        f"{W}/sql",
        json={
            "query": "SELECT number, data.subject.:String FROM records FINAL "
            "WHERE collection = 'tickets' AND number <= 3 ORDER BY number"
        },
    ).json()["data"]
    assert rows == [[1, "t0"], [2, "t1"], [3, "t2"]]
    scoped, _ = api.core.tokens.create(  # type: ignore[attr-defined]
        "customers-only",
        [{"scope": {"workspaces": ["acme"], "collections": ["customers"]}, "permissions": ["read:records"]}],
    )
    assert api.get(f"{W}/tickets/by-number/1", token=scoped).status_code == 404

"""`?include=` on the ticket routes: the page's customers and SLA summaries, a ticket's conversation and
related tickets, in one answer — checked as the separate routes check them, and absent unless asked."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

W = "/v1/workspaces/acme"
TICKET = {"subject": "Help", "status": "open", "priority": "high"}


def _ticket_for(api: Api, ws: str, name: str, subject: str = "Help") -> tuple[dict[str, Any], dict[str, Any]]:
    base = f"/v1/workspaces/{ws}"
    cust = api.post(
        f"{base}/records/customers", json={"data": {"name": name, "email": f"{name}@x.io"}}
    ).json()
    t = api.post(f"{base}/records/tickets", json={"data": {**TICKET, "subject": subject}}).json()
    link = {
        "rel_type": "submitted_by",
        "source": {"collection": "tickets", "id": t["id"]},
        "target": {"collection": "customers", "id": cust["id"]},
    }
    assert api.post(f"{base}/relationships", json=link).status_code == 201
    return t, cust


def test_list_include_customer_and_sla(api: Api, api_ws: str) -> None:
    a, ana = _ticket_for(api, "acme", "ana")
    b = api.post(f"{W}/records/tickets", json={"data": TICKET}).json()  # no customer
    plain = api.get(f"{W}/records/tickets").json()
    assert set(plain) == {"data", "next_cursor"}  # the wire contract, unchanged for those who don't ask
    page = api.get(f"{W}/records/tickets", params={"include": "customer,sla"}).json()
    assert [r["id"] for r in page["data"]] == [r["id"] for r in plain["data"]]
    inc = page["included"]
    assert set(inc) == {a["id"], b["id"]}
    assert inc[a["id"]]["customer"]["id"] == ana["id"]
    assert inc[a["id"]]["customer"]["data"]["email"] == "ana@x.io"
    assert inc[b["id"]]["customer"] is None
    sla = inc[a["id"]]["sla"]  # the support template's policy runs a clock on a new ticket
    assert {"metric", "cycle", "state", "target_at", "business", "paused"} == set(sla)
    assert sla["target_at"].endswith("Z")
    only_sla = api.get(f"{W}/records/tickets", params={"include": "sla"}).json()["included"]
    assert set(only_sla[a["id"]]) == {"sla"}


def test_record_include_everything(api: Api, api_ws: str) -> None:
    t, ana = _ticket_for(api, "acme", "ana")
    other = api.post(f"{W}/records/tickets", json={"data": {**TICKET, "subject": "Same"}}).json()
    link = {
        "rel_type": "related_to",
        "source": {"collection": "tickets", "id": t["id"]},
        "target": {"collection": "tickets", "id": other["id"]},
    }
    api.post(f"{W}/relationships", json=link)
    api.post(f"{W}/tickets/{t['id']}/responses", json={"body": "On it", "author": "maria"})
    plain = api.get(f"{W}/records/tickets/{t['id']}")
    assert "included" not in plain.json() and "sla" in plain.json()
    r = api.get(f"{W}/records/tickets/{t['id']}", params={"include": "customer,sla,conversation,related"})
    assert r.status_code == 200 and r.headers["ETag"] == plain.headers["ETag"]
    body = r.json()
    assert {k: v for k, v in body.items() if k != "included"} == plain.json()
    inc = body["included"][t["id"]]
    assert inc["customer"]["id"] == ana["id"]
    assert inc["sla"]["metric"]
    conv = api.get(f"{W}/tickets/{t['id']}/responses").json()["data"]
    assert inc["conversation"] == conv and conv[0]["data"]["body"] == "On it"
    assert [x["ticket"]["id"] for x in inc["related"]] == [other["id"]]
    by_number = api.get(f"{W}/tickets/by-number/{t['number']}", params={"include": "customer"}).json()
    assert by_number["included"][t["id"]]["customer"]["id"] == ana["id"]


def test_unknown_include_is_400(api: Api, api_ws: str) -> None:
    t, _ = _ticket_for(api, "acme", "ana")
    for path, include in (
        (f"{W}/records/tickets", "users"),
        (f"{W}/records/tickets", "conversation"),  # per ticket: not on a page
        (f"{W}/records/tickets/{t['id']}", "customer,nope"),
        (f"{W}/records/customers", "customer"),  # only tickets offer includes
        (f"{W}/tickets/by-number/{t['number']}", "users"),
    ):
        r = api.get(path, params={"include": include})
        assert r.status_code == 400, (path, include)
        assert r.json()["error"]["code"] == "invalid_include"
        assert "allowed" in r.json()["error"]["details"]


def test_includes_need_what_their_routes_need(api: Api, api_ws: str) -> None:
    t, _ = _ticket_for(api, "acme", "ana")
    core = api.core  # type: ignore[attr-defined]
    tickets_only, _ = core.tokens.create(
        "tickets-only",
        [{"scope": {"workspaces": ["acme"], "collections": ["tickets"]}, "permissions": ["read:records"]}],
    )
    no_links, _ = core.tokens.create(
        "records-only", [{"scope": {"workspaces": ["acme"]}, "permissions": ["read:records"]}]
    )
    reader, _ = core.tokens.create(
        "reader",
        [{"scope": {"workspaces": ["acme"]}, "permissions": ["read:records", "read:relationships"]}],
    )
    for token, status, code in ((tickets_only, 404, "not_found"), (no_links, 403, "forbidden")):
        for path in (f"{W}/records/tickets", f"{W}/records/tickets/{t['id']}"):
            r = api.get(path, params={"include": "customer"}, token=token)
            assert r.status_code == status and r.json()["error"]["code"] == code
            assert "ana@x.io" not in r.text
        r = api.get(f"{W}/records/tickets/{t['id']}", params={"include": "conversation"}, token=no_links)
        assert r.status_code == 403
        assert api.get(f"{W}/records/tickets", params={"include": "sla"}, token=token).status_code == 200
    r = api.get(f"{W}/records/tickets", params={"include": "customer"}, token=reader)
    assert r.status_code == 200 and r.json()["included"][t["id"]]["customer"]["data"]["email"] == "ana@x.io"


def test_no_include_crosses_workspaces(api: Api, api_ws: str) -> None:
    assert api.put("/v1/workspaces/globex", json={"name": "Globex"}).status_code in (200, 201)
    assert api.post("/v1/workspaces/globex/templates/support").status_code in (200, 201)
    mine, _ = _ticket_for(api, "acme", "ana")
    theirs, _ = _ticket_for(api, "globex", "gus")
    core = api.core  # type: ignore[attr-defined]
    acme_reader, _ = core.tokens.create(
        "acme-reader",
        [{"scope": {"workspaces": ["acme"]}, "permissions": ["read:records", "read:relationships"]}],
    )
    page = api.get(f"{W}/records/tickets", params={"include": "customer,sla"}, token=acme_reader)
    assert set(page.json()["included"]) == {mine["id"]} and "gus@x.io" not in page.text
    for path in (
        "/v1/workspaces/globex/records/tickets",
        f"/v1/workspaces/globex/records/tickets/{theirs['id']}",
    ):
        r = api.get(path, params={"include": "customer"}, token=acme_reader)
        assert r.status_code == 404 and "gus" not in r.text
    r = api.get(f"{W}/records/tickets/{theirs['id']}", params={"include": "customer,related"})
    assert r.status_code == 404 and "gus" not in r.text


def test_openapi_documents_include(api: Api) -> None:
    spec = api.get("/openapi.json").json()
    for path in (
        "/v1/workspaces/{ws}/records/{collection}",
        "/v1/workspaces/{ws}/records/{collection}/{rid}",
    ):
        params = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        assert "include" in params and "customer" in params["include"]["description"]

"""`GET …/search`: grouped, ranked results, scoped to what the token may read, errors as JSON."""

from __future__ import annotations

from tests.conftest import Api

W = "/v1/workspaces/acme"


def test_search_groups_ranks_and_scopes(api: Api, api_ws: str) -> None:
    cust = api.post(
        f"{W}/records/customers", json={"data": {"name": "Ben Silva", "email": "ben@silva.io"}}
    ).json()
    t = api.post(
        f"{W}/records/tickets",
        json={"data": {"subject": "Ben cannot sign in", "status": "open", "priority": "low"}},
    ).json()
    api.post(f"{W}/tickets/{t['id']}/responses", json={"body": "Reset link for ben@silva.io sent"})
    body = api.get(f"{W}/search", params={"q": "ben@silva.io"}).json()["data"]
    assert body[0]["collection"] == "customers"  # the exact email ranks first
    assert body[0]["data"][0]["id"] == cust["id"] and body[0]["data"][0]["rank"] == 0
    tickets = next(g for g in body if g["collection"] == "tickets")["data"]
    assert [h["id"] for h in tickets] == [t["id"]] and tickets[0]["matched"] == ["message"]
    assert tickets[0]["number"] == t["number"]
    by_number = api.get(f"{W}/search", params={"q": f"#{t['number']}"}).json()["data"]
    assert by_number[0]["data"][0]["id"] == t["id"] and by_number[0]["data"][0]["matched"] == ["number"]

    core = api.core  # type: ignore[attr-defined]
    raw, _ = core.tokens.create(
        "tickets-only",
        [{"scope": {"workspaces": ["acme"], "collections": ["tickets"]}, "permissions": ["read:records"]}],
    )
    scoped = api.get(f"{W}/search", params={"q": "ben"}, token=raw).json()["data"]
    assert [g["collection"] for g in scoped] == ["tickets"]
    other, _ = core.tokens.create(
        "other-ws", [{"scope": {"workspaces": ["other"]}, "permissions": ["read:records"]}]
    )
    r = api.get(f"{W}/search", params={"q": "ben"}, token=other)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    writer, _ = core.tokens.create(
        "writer", [{"scope": {"workspaces": ["acme"]}, "permissions": ["write:records"]}]
    )
    assert api.get(f"{W}/search", params={"q": "ben"}, token=writer).status_code == 403


def test_search_validates_its_query(api: Api, api_ws: str) -> None:
    r = api.get(f"{W}/search")
    assert r.status_code == 400 and r.json()["error"]["code"]
    assert api.get(f"{W}/search", params={"q": "x" * 201}).status_code == 400
    assert api.get(f"{W}/search", params={"q": "ok", "limit": 0}).status_code == 400
    assert api.get(f"{W}/search", params={"q": "ok"}).json() == {"data": []}


def test_words_are_found_across_a_tickets_fields(api: Api, api_ws: str) -> None:
    """Subject + customer name, subject + message text: every word in some field of the ticket."""
    cust = api.post(
        f"{W}/records/customers", json={"data": {"name": "Ben Silva", "email": "ben@silva.io"}}
    ).json()
    t = api.post(
        f"{W}/records/tickets",
        json={"data": {"subject": "Please add SSO", "status": "open", "priority": "low"}},
    ).json()
    link = {
        "rel_type": "submitted_by",
        "source": {"collection": "tickets", "id": t["id"]},
        "target": {"collection": "customers", "id": cust["id"]},
    }
    assert api.post(f"{W}/relationships", json=link).status_code in (200, 201)
    api.post(f"{W}/tickets/{t['id']}/responses", json={"body": "Okta tenant is acme-prod"})
    for q in ("sso silva", "okta sso", "silva okta"):
        groups = api.get(f"{W}/search", params={"q": q}).json()["data"]
        hits = next(g for g in groups if g["collection"] == "tickets")["data"]
        assert [h["id"] for h in hits] == [t["id"]], q
    assert api.get(f"{W}/search", params={"q": "sso nowhere"}).json()["data"] == []

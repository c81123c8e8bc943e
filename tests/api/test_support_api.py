"""Support routes: replies create a response and its link atomically; conversation and timeline."""

from __future__ import annotations

from tests.conftest import Api

W = "/v1/workspaces/acme"


def test_reply_note_conversation_and_timeline(api: Api, api_ws: str) -> None:
    cust = api.post(f"{W}/records/customers", json={"data": {"name": "Ana", "email": "ana@x.io"}}).json()
    t = api.post(
        f"{W}/records/tickets", json={"data": {"subject": "Help", "status": "open", "priority": "high"}}
    ).json()
    api.post(
        f"{W}/relationships",
        json={
            "rel_type": "submitted_by",
            "source": {"collection": "tickets", "id": t["id"]},
            "target": {"collection": "customers", "id": cust["id"]},
        },
    )
    r = api.post(
        f"{W}/tickets/{t['id']}/responses", json={"body": "On it", "type": "reply", "author": "maria"}
    )
    assert r.status_code == 201 and r.json()["collection"] == "responses"
    stored = api.get(f"{W}/records/responses/{r.json()['id']}").json()
    assert r.json()["version"] == stored["version"] > 0  # answered after the commit, with its version
    api.post(f"{W}/tickets/{t['id']}/responses", json={"body": "Internal", "type": "internal_note"})
    api.post(f"{W}/tickets/{t['id']}/responses", json={"body": "Thanks", "author": "ANA@x.io"})
    api.patch(f"{W}/records/tickets/{t['id']}", json={"data": {"status": "waiting"}})
    conv = api.get(f"{W}/tickets/{t['id']}/responses").json()["data"]
    assert [(m["data"]["body"], m["kind"]) for m in conv] == [
        ("On it", "agent"),
        ("Internal", "note"),
        ("Thanks", "customer"),
    ]
    assert conv[1]["data"]["author"] == "admin"
    links = api.get(f"{W}/records/tickets/{t['id']}/relationships", params={"type": "has_response"}).json()[
        "data"
    ]
    assert len(links) == 3
    full = api.get(f"{W}/tickets/{t['id']}/timeline").json()["data"]
    tl = [i for i in full if i["type"] != "sla"]
    assert [i["type"] for i in tl] == ["created", "message", "message", "message", "changed"]
    assert {"activate", "fulfil"} <= {i["event"]["kind"] for i in full if i["type"] == "sla"}
    assert tl[-1]["fields"] == {"status": {"from": "open", "to": "waiting"}}


def test_reply_to_missing_ticket_writes_nothing(api: Api, api_ws: str) -> None:
    before = len(api.get(f"{W}/changes?limit=1000").json()["data"])
    r = api.post(f"{W}/tickets/nope/responses", json={"body": "x"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    bad = api.post(f"{W}/tickets/nope/responses", json={"body": "x", "type": "shout"})
    assert bad.status_code == 422
    assert len(api.get(f"{W}/changes?limit=1000").json()["data"]) == before


def test_timeline_and_conversation_follow_collection_scope_and_audit(api: Api, api_ws: str) -> None:
    """A token scoped to tickets sees the timeline's field changes but no message (which the generic route
    hides from it too), and no actor without read:audit; the conversation route refuses it."""
    t = api.post(
        f"{W}/records/tickets", json={"data": {"subject": "S", "status": "open", "priority": "low"}}
    ).json()
    msg = api.post(f"{W}/tickets/{t['id']}/responses", json={"body": "secret body", "author": "maria"}).json()
    api.patch(f"{W}/records/tickets/{t['id']}", json={"data": {"status": "waiting"}})
    core = api.core  # type: ignore[attr-defined]
    tickets_only, _ = core.tokens.create(
        "tickets-only",
        [{"scope": {"workspaces": ["acme"], "collections": ["tickets"]}, "permissions": ["read:records"]}],
    )
    r = api.get(f"{W}/tickets/{t['id']}/timeline", token=tickets_only)
    assert r.status_code == 200
    items = r.json()["data"]
    assert "secret body" not in r.text and {i["type"] for i in items} >= {"created", "changed"}
    assert all(i.get("actor") is None for i in items if i["type"] in ("created", "changed"))
    assert all("message_id" not in i["event"]["details"] for i in items if i["type"] == "sla")
    assert api.get(f"{W}/tickets/{t['id']}/responses", token=tickets_only).status_code == 404
    assert api.get(f"{W}/records/responses/{msg['id']}", token=tickets_only).status_code == 404
    auditor, _ = core.tokens.create(
        "auditor", [{"scope": {"workspaces": ["acme"]}, "permissions": ["read:records", "read:audit"]}]
    )
    seen = api.get(f"{W}/tickets/{t['id']}/timeline", token=auditor).json()["data"]
    assert {i["actor"]["name"] for i in seen if i["type"] in ("created", "changed")} == {"admin"}
    # read:records without read:relationships: the responses route names what is missing.
    r = api.get(f"{W}/tickets/{t['id']}/responses", token=auditor)
    assert r.status_code == 403 and r.json()["error"]["details"]["permission"] == "read:relationships"

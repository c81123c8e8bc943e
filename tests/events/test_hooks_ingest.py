"""Inbound hook ingest over HTTP on both stores: payloads signed by the third-party `standardwebhooks`
package are verified (or refused), deduplicated on webhook-id, mapped and upserted by external id as the
hook's actor, and every verified refusal lands in the ingest log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from deskbase.core import tables as ct
from deskbase.core.clock import FixedClock
from tests.conftest import Api
from tests.events.conftest import hooks_api

WS = "/v1/workspaces/acme"
MAPPING = {"subject": "/order/title", "status": {"const": "open"}, "priority": "/order/urgency"}


@pytest.fixture
def sapi(tmp_path: Path, live_clock: FixedClock, store_url: str) -> Iterator[Api]:
    with hooks_api(tmp_path, live_clock, database_url=store_url, hook_max_body_bytes=4096) as api:
        yield api


def make_hook(api: Api, hid: str = "shop", **kw: Any) -> tuple[str, str | None]:
    body = {"collection": "tickets", "mapping": MAPPING, "external_id": "/order/id", **kw}
    r = api.put(f"{WS}/hooks/{hid}", json=body)
    assert r.status_code == 201, r.text
    return r.json()["ingest_path"], r.json().get("secret")


def order(oid: str = "A-1", title: str = "Broken widget", urgency: str = "high") -> dict[str, Any]:
    return {"order": {"id": oid, "title": title, "urgency": urgency}}


def send(
    api: Api,
    path: str,
    secret: str | None,
    payload: Any,
    msg_id: str = "msg_1",
    at: datetime | None = None,
    raw: bytes | None = None,
) -> Any:
    """POST like a Standard Webhooks sender: no bearer token, the body signed by the standardwebhooks package."""
    body = raw if raw is not None else orjson.dumps(payload)
    headers = {"content-type": "application/json"}
    if secret is not None:
        when = at or datetime.now(UTC)
        headers |= {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, when, body),
        }
    return api.post(path, content=body, headers=headers, token=None)


def ingests(api: Api, hid: str = "shop", **params: Any) -> dict[str, Any]:
    r = api.get(f"{WS}/hooks/{hid}/ingests", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def change_count(api: Api) -> int:
    with api.core.db.read() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(select(func.count()).select_from(ct.changes)).scalar_one())


def test_a_signed_payload_becomes_a_record_written_by_the_hook(sapi: Api) -> None:
    path, secret = make_hook(sapi)
    r = send(sapi, path, secret, order())
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["status"] == "created" and out["collection"] == "tickets" and out["webhook_id"] == "msg_1"
    rec = sapi.get(f"{WS}/records/tickets/{out['record_id']}").json()
    assert rec["data"] == {"subject": "Broken widget", "status": "open", "priority": "high"}
    assert (rec["external_id"], rec["external_source"]) == ("A-1", "hook:shop")
    history = sapi.get(f"{WS}/records/tickets/{out['record_id']}/history").json()["data"]
    assert [(h["actor"]["id"], h["op"]) for h in history] == [("hook:shop", "create")]
    log = ingests(sapi)["data"]
    assert [(e["id"], e["webhook_id"], e["status"], e["record_id"], e["error"]) for e in log] == [
        (out["ingest_id"], "msg_1", "created", out["record_id"], None)
    ]


def test_signatures_are_refused_unless_made_with_the_hooks_secret_recently(sapi: Api) -> None:
    path, secret = make_hook(sapi)
    assert secret is not None
    other = Webhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
    body = orjson.dumps(order())
    now = datetime.now(UTC)
    cases = {
        "wrong secret": send(sapi, path, "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", order()),
        "too old": send(sapi, path, secret, order(), at=now - timedelta(minutes=6)),
        "from the future": send(sapi, path, secret, order(), at=now + timedelta(minutes=6)),
        "unsigned": sapi.post(path, json=order(), token=None),
        "tampered body": sapi.post(
            path,
            content=body + b" ",
            headers={
                "content-type": "application/json",
                "webhook-id": "m",
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": Webhook(secret).sign("m", now, body),
            },
            token=None,
        ),
        "other id": sapi.post(
            path,
            content=body,
            headers={
                "content-type": "application/json",
                "webhook-id": "m2",
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": Webhook(secret).sign("m", now, body) + " " + other.sign("m2", now, body),
            },
            token=None,
        ),
    }
    for name, r in cases.items():
        assert r.status_code == 401, (name, r.text)
        assert r.json()["error"]["code"] == "unauthorized", name
    assert ingests(sapi)["data"] == []  # unverified requests are logged nowhere
    ok = send(sapi, path, secret, order(), at=now - timedelta(minutes=4))
    assert ok.status_code == 201, ok.text


def test_the_previous_secret_verifies_for_a_day_after_rotation(sapi: Api) -> None:
    path, first = make_hook(sapi)
    second = sapi.post(f"{WS}/hooks/shop/rotate-secret").json()["secret"]
    assert send(sapi, path, first, order("A-1"), "m1").status_code == 201
    assert send(sapi, path, second, order("A-2"), "m2").status_code == 201
    clock: FixedClock = sapi.core.clock  # type: ignore[attr-defined]
    clock.advance(hours=24, seconds=1)
    later = clock.now()
    assert send(sapi, path, first, order("A-3"), "m3", at=later).status_code == 401
    assert send(sapi, path, second, order("A-3"), "m3", at=later).status_code == 201


def test_a_second_delivery_of_a_webhook_id_writes_nothing(sapi: Api) -> None:
    path, secret = make_hook(sapi)
    first = send(sapi, path, secret, order(title="first"), "msg_same")
    assert first.status_code == 201
    before = change_count(sapi)
    again = send(sapi, path, secret, order(title="changed meanwhile"), "msg_same")
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "duplicate"
    assert again.json()["record_id"] == first.json()["record_id"]
    assert again.json()["ingest_id"] == first.json()["ingest_id"]
    assert change_count(sapi) == before
    assert len(ingests(sapi)["data"]) == 1
    rec = sapi.get(f"{WS}/records/tickets/{first.json()['record_id']}").json()
    assert rec["data"]["subject"] == "first"


def test_the_external_id_upserts_one_record_and_keeps_fields_the_hook_does_not_map(sapi: Api) -> None:
    path, secret = make_hook(sapi)
    first = send(sapi, path, secret, order("A-7", "v1"), "m1").json()
    rid = first["record_id"]
    patched = sapi.patch(
        f"{WS}/records/tickets/{rid}", json={"data": {"assignee": "ann", "status": "waiting"}}
    )
    assert patched.status_code == 200, patched.text
    second = send(sapi, path, secret, order("A-7", "v2", "low"), "m2")
    assert second.status_code == 200 and second.json()["status"] == "updated"
    assert second.json()["record_id"] == rid
    rec = sapi.get(f"{WS}/records/tickets/{rid}").json()
    assert rec["data"] == {"subject": "v2", "status": "open", "priority": "low", "assignee": "ann"}
    assert send(sapi, path, secret, order("A-8"), "m3").json()["record_id"] != rid
    query = sapi.get(f"{WS}/records/tickets").json()["data"]
    assert sorted(r["external_id"] for r in query) == ["A-7", "A-8"]
    assert [e["status"] for e in ingests(sapi)["data"]] == ["created", "updated", "created"]


def test_a_deleted_record_comes_back_when_its_external_id_is_sent_again(sapi: Api) -> None:
    path, secret = make_hook(sapi)
    rid = send(sapi, path, secret, order("A-9", "v1"), "m1").json()["record_id"]
    assert sapi.delete(f"{WS}/records/tickets/{rid}").status_code in (200, 204)
    again = send(sapi, path, secret, order("A-9", "v2"), "m2")
    assert again.status_code == 201 and again.json()["status"] == "created"
    assert again.json()["record_id"] == rid
    rec = sapi.get(f"{WS}/records/tickets/{rid}").json()
    assert rec["deleted"] is False and rec["data"]["subject"] == "v2"


def test_a_signed_body_that_is_not_json_and_not_sent_as_json_is_logged_as_refused(sapi: Api) -> None:
    """Only a body declared JSON is checked before the route; any other reaches the hook, which verifies the
    signature first and then logs the parse failure like any refusal (an unsigned one stays unlogged)."""
    path, secret = make_hook(sapi)
    body, now = b'{"order": ', datetime.now(UTC)
    signed = {
        "content-type": "text/plain",
        "webhook-id": "m1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign("m1", now, body),
    }
    r = sapi.post(path, content=body, headers=signed, token=None)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    unsigned = sapi.post(path, content=body, headers={"content-type": "text/plain"}, token=None)
    assert unsigned.status_code == 401
    log = ingests(sapi)["data"]
    assert [(e["webhook_id"], e["status"], e["error"]["code"]) for e in log] == [
        ("m1", "failed", "invalid_json")
    ]
    assert log[0]["id"] == r.json()["error"]["details"]["ingest_id"]


def test_payloads_that_do_not_fit_are_422_and_logged_and_may_be_sent_again(sapi: Api) -> None:
    path, secret = make_hook(sapi)
    before = change_count(sapi)
    no_title = send(sapi, path, secret, {"order": {"id": "A-1", "urgency": "high"}}, "m1")
    assert no_title.status_code == 422, no_title.text
    err = no_title.json()["error"]
    assert err["code"] == "validation_failed"
    assert err["details"]["errors"] == [{"pointer": "/data", "message": '"subject" is a required property'}]
    assert err["details"]["unresolved"] == {"subject": "/order/title"}
    bad_value = send(sapi, path, secret, order(urgency="whenever"), "m2")
    assert bad_value.status_code == 422
    assert [e["pointer"] for e in bad_value.json()["error"]["details"]["errors"]] == ["/data/priority"]
    no_id = send(sapi, path, secret, {"order": {"title": "t", "urgency": "low"}}, "m3")
    assert no_id.status_code == 422
    assert [e["pointer"] for e in no_id.json()["error"]["details"]["errors"]] == ["/external_id"]
    # Not JSON: refused (400) by the API's JSON check before the hook is even looked at, so not logged.
    not_json = send(sapi, path, secret, None, "m4", raw=b'{"order": ')
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"
    assert change_count(sapi) == before  # nothing written
    log = ingests(sapi)["data"]
    assert [(e["webhook_id"], e["status"], e["record_id"]) for e in log] == [
        ("m3", "failed", None),
        ("m2", "failed", None),
        ("m1", "failed", None),
    ]
    assert log[2]["error"]["code"] == "validation_failed" and log[2]["id"] == err["details"]["ingest_id"]
    assert log[2]["error"]["details"]["unresolved"] == {"subject": "/order/title"}
    fixed = send(sapi, path, secret, order(), "m1")  # the sender retries the refused id after a fix
    assert fixed.status_code == 201
    assert ingests(sapi, status="created")["data"][0]["webhook_id"] == "m1"
    assert len(ingests(sapi, status="failed")["data"]) == 3


def test_the_ingest_log_pages_by_cursor(sapi: Api) -> None:
    path, secret = make_hook(sapi)
    for i in range(5):
        assert send(sapi, path, secret, order(f"A-{i}"), f"m{i}").status_code == 201
    page = ingests(sapi, limit=2)
    seen = [e["webhook_id"] for e in page["data"]]
    while page["next_cursor"]:
        page = ingests(sapi, limit=2, cursor=page["next_cursor"])
        seen += [e["webhook_id"] for e in page["data"]]
    assert seen == ["m4", "m3", "m2", "m1", "m0"]
    assert sapi.get(f"{WS}/hooks/shop/ingests", params={"status": "odd"}).status_code == 400
    assert sapi.get(f"{WS}/hooks/shop/ingests", params={"cursor": "!!"}).status_code == 400


def test_unknown_and_disabled_hooks_are_the_same_404(sapi: Api) -> None:
    path, secret = make_hook(sapi)
    unknown = send(sapi, "/v1/hooks/hk_nosuchhookkeyatall123/ingest", secret, order())
    body = {"collection": "tickets", "mapping": MAPPING, "external_id": "/order/id", "enabled": False}
    assert sapi.put(f"{WS}/hooks/shop", json=body).status_code == 200
    disabled = send(sapi, path, secret, order())
    assert unknown.status_code == disabled.status_code == 404
    assert unknown.json() == disabled.json()
    assert send(sapi, "/v1/hooks/not-a-key/ingest", secret, order()).json()["error"]["code"] == "invalid_id"


def test_a_payload_over_the_limit_is_413(sapi: Api) -> None:
    path, secret = make_hook(sapi)
    r = send(sapi, path, secret, order(title="x" * 5000))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert change_count(sapi) > 0 and ingests(sapi)["data"] == []


def test_a_hook_without_verification_takes_anything_and_still_dedupes(sapi: Api) -> None:
    path, _ = make_hook(sapi, "open", verify="none")
    assert sapi.post(path, json=order("B-1"), token=None).status_code == 201
    assert sapi.post(path, json=order("B-2"), token=None).status_code == 201  # no webhook-id: no dedupe
    first = sapi.post(path, json=order("B-3"), headers={"webhook-id": "x1"}, token=None)
    again = sapi.post(path, json=order("B-4"), headers={"webhook-id": "x1"}, token=None)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["record_id"] == first.json()["record_id"]
    assert len(ingests(sapi, "open")["data"]) == 3


def test_the_hook_writes_with_the_grants_of_the_token_that_configured_it(sapi: Api) -> None:
    """A workspace admin's hook writes in that workspace, as that admin could; the change log names the hook."""
    core = sapi.core  # type: ignore[attr-defined]
    ws_admin, _ = core.tokens.create(
        "ws-admin", [{"scope": {"workspaces": ["acme"]}, "permissions": ["admin"]}]
    )
    body = {"collection": "customers", "mapping": {"name": "/n", "email": "/e"}, "external_id": "/e"}
    r = sapi.put(f"{WS}/hooks/crm", json=body, token=ws_admin)
    assert r.status_code == 201, r.text
    path, secret = r.json()["ingest_path"], r.json()["secret"]
    ok = send(sapi, path, secret, {"n": "Ann", "e": "ann@example.com"})
    assert ok.status_code == 201, ok.text
    feed = sapi.get(f"{WS}/changes").json()["data"]
    assert feed[-1]["actor"] == {"id": "hook:crm", "name": "hook crm"}


def test_a_flood_through_one_ingest_url_is_429_with_retry_after(
    tmp_path: Path, live_clock: FixedClock
) -> None:
    """The per-token rate limit applies per hook to the tokenless ingest route; unknown URLs are 404 first."""
    settings = {"rate_limit_per_second": 1.0, "rate_limit_burst": 2}
    with hooks_api(tmp_path, live_clock, **settings) as api:
        path, secret = make_hook(api)
        answers = [send(api, path, secret, order(oid=f"A-{n}"), msg_id=f"m{n}") for n in range(3)]
        assert [r.status_code for r in answers[:2]] == [201, 201]
        assert answers[2].status_code == 429 and answers[2].json()["error"]["code"] == "rate_limited"
        assert int(answers[2].headers["retry-after"]) >= 1
        assert api.post("/v1/hooks/hk_nosuchkey/ingest", json={}, token=None).status_code == 404

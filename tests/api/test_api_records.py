"""The HTTP API end to end through the real ASGI app: happy paths and every kind of bad input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

T = {"subject": "Login fails", "status": "open", "priority": "high"}
W = "/v1/workspaces/acme"


def error_of(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


def count_changes(api: Api) -> int:
    return len(api.get(f"{W}/changes?limit=1000").json()["data"])


def test_record_lifecycle(api: Api, api_ws: str) -> None:
    r = api.post(f"{W}/records/tickets", json={"data": T})
    assert r.status_code == 201
    rec = r.json()
    assert set(rec) == {
        "id",
        "collection",
        "data",
        "version",
        "deleted",
        "created_at",
        "updated_at",
        "external_id",
        "external_source",
        "number",  # an extension of the wire contract: tickets are numbered (#1), other collections null
    }
    assert rec["number"] == 1
    assert rec["created_at"].endswith("Z") and r.headers["ETag"] == f'"{rec["version"]}"'
    got = api.get(f"{W}/records/tickets/{rec['id']}").json()
    assert {k: got[k] for k in rec} == rec
    assert {i["metric"] for i in got["sla"]} == {"first_response", "first_resolution", "resolution"}
    assert got["metrics"]["awaiting"] == "agent"
    p = api.patch(
        f"{W}/records/tickets/{rec['id']}",
        json={"data": {"status": "waiting"}},
        headers={"If-Match": f'"{rec["version"]}"'},
    )
    assert p.status_code == 200 and p.json()["data"]["status"] == "waiting"
    stale = api.put(
        f"{W}/records/tickets/{rec['id']}", json={"data": T}, headers={"If-Match": str(rec["version"])}
    )
    error_of(stale, 412, "version_mismatch")
    q = api.get(
        f"{W}/records/tickets", params={"filter": '{"field":"data.status","op":"eq","value":"waiting"}'}
    )
    assert [x["id"] for x in q.json()["data"]] == [rec["id"]]
    d = api.delete(f"{W}/records/tickets/{rec['id']}")
    assert d.status_code == 200 and d.json()["deleted"] is True
    error_of(api.get(f"{W}/records/tickets/{rec['id']}"), 404, "not_found")
    h = api.get(f"{W}/records/tickets/{rec['id']}/history").json()["data"]
    assert [e["op"] for e in h] == ["create", "update", "delete"]
    assert all(e["actor"]["name"] == "admin" for e in h)
    # documents is an alias of records
    assert api.post(f"{W}/documents/tickets", json={"data": T}).status_code == 201


def test_external_id_upsert_returns_200(api: Api, api_ws: str) -> None:
    body = {"data": T, "external_id": "Z-9", "external_source": "zendesk"}
    assert api.post(f"{W}/records/tickets", json=body).status_code == 201
    again = api.post(f"{W}/records/tickets", json=body)
    assert again.status_code == 200


def test_relationships_over_http(api: Api, api_ws: str) -> None:
    t = api.post(f"{W}/records/tickets", json={"data": T}).json()
    c1 = api.post(f"{W}/records/customers", json={"data": {"name": "A", "email": "a@example.com"}}).json()
    c2 = api.post(f"{W}/records/customers", json={"data": {"name": "B", "email": "b@example.com"}}).json()
    body = {
        "rel_type": "submitted_by",
        "source": {"collection": "tickets", "id": t["id"]},
        "target": {"collection": "customers", "id": c1["id"]},
    }
    link = api.post(f"{W}/relationships", json=body)
    assert link.status_code == 201
    err = error_of(
        api.post(f"{W}/relationships", json={**body, "target": {"collection": "customers", "id": c2["id"]}}),
        409,
        "conflict",
    )
    assert err["details"]["existing_relationship"] == link.json()["id"]
    moved = api.post(
        f"{W}/relationships",
        json={**body, "target": {"collection": "customers", "id": c2["id"]}, "replace": True},
    )
    assert moved.status_code == 201
    lst = api.get(f"{W}/records/tickets/{t['id']}/relationships", params={"type": "submitted_by"}).json()[
        "data"
    ]
    assert [x["target"]["id"] for x in lst] == [c2["id"]]
    inc = api.get(
        f"{W}/records/customers/{c2['id']}/relationships",
        params={"type": "submitted_by", "direction": "incoming"},
    ).json()["data"]
    assert [x["id"] for x in inc] == [moved.json()["id"]]
    assert api.delete(f"{W}/relationships/{moved.json()['id']}").json()["deleted"] is True


BAD: list[tuple[str, str, str, Any, dict[str, str], int, str]] = [
    # (name, method, path, json-or-raw, headers, status, code)
    (
        "malformed json",
        "POST",
        "/records/tickets",
        b'{"data": {',
        {"Content-Type": "application/json"},
        400,
        "invalid_json",
    ),
    ("unknown workspace", "POST", "/../nope/records/tickets", {"data": T}, {}, 404, "not_found"),
    ("unknown collection", "POST", "/records/nope", {"data": T}, {}, 404, "not_found"),
    (
        "schema violation",
        "POST",
        "/records/tickets",
        {"data": {"status": "bad"}},
        {},
        422,
        "validation_failed",
    ),
    ("data not an object", "POST", "/records/tickets", {"data": [1]}, {}, 422, "validation_failed"),
    ("unknown body field", "POST", "/records/tickets", {"data": T, "extra": 1}, {}, 422, "validation_failed"),
    ("non-slug record id", "POST", "/records/tickets", {"id": "a b", "data": T}, {}, 400, "invalid_id"),
    (
        "oversize data",
        "POST",
        "/records/tickets",
        {"data": {**T, "description": "x" * 1_100_000}},
        {},
        413,
        "payload_too_large",
    ),
    (
        "non-slug collection",
        "PUT",
        "/collections/Bad Name",
        {"json_schema": {"type": "object"}},
        {},
        400,
        "invalid_id",
    ),
    (
        "invalid schema",
        "PUT",
        "/collections/x",
        {"json_schema": {"type": "objectx"}},
        {},
        422,
        "validation_failed",
    ),
    (
        "unknown rel type",
        "POST",
        "/relationships",
        {
            "rel_type": "nope",
            "source": {"collection": "tickets", "id": "a"},
            "target": {"collection": "tickets", "id": "b"},
        },
        {},
        404,
        "not_found",
    ),
    (
        "link to missing record",
        "POST",
        "/relationships",
        {
            "rel_type": "related_to",
            "source": {"collection": "tickets", "id": "missing"},
            "target": {"collection": "tickets", "id": "missing2"},
        },
        {},
        422,
        "validation_failed",
    ),
    (
        "invalid filter op",
        "GET",
        "/records/tickets?filter=%7B%22field%22%3A%22status%22%2C%22op%22%3A%22zz%22%7D",
        None,
        {},
        400,
        "invalid_filter",
    ),
    ("filter not json", "GET", "/records/tickets?filter=%7Bnope", None, {}, 400, "invalid_filter"),
    (
        "filter wrong value type",
        "GET",
        "/records/tickets?filter=%7B%22field%22%3A%22status%22%2C%22op%22%3A%22in%22%2C%22value%22%3A1%7D",
        None,
        {},
        400,
        "invalid_filter",
    ),
    ("bad if-match", "PUT", "/records/tickets/x", {"data": T}, {"If-Match": "abc"}, 400, "bad_request"),
    (
        "bad time zone",
        "PUT",
        "",
        {"name": "x", "settings": {"timezone": "Mars/Olympus"}},
        {},
        422,
        "validation_failed",
    ),
    ("empty batch", "POST", "/batch", {"operations": []}, {}, 422, "validation_failed"),
    ("bad import time", "POST", "/records/tickets", {"data": T, "at": "yesterday"}, {}, 400, "bad_request"),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "headers", "status", "code"), BAD, ids=[b[0] for b in BAD]
)
def test_bad_input_is_a_clear_4xx_and_writes_nothing(
    api: Api,
    api_ws: str,
    name: str,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    before = count_changes(api)
    url = W + path if not path.startswith("/..") else "/v1/workspaces" + path[3:]
    kw: dict[str, Any] = {"headers": headers}
    if isinstance(body, bytes):
        kw["content"] = body
    elif body is not None:
        kw["json"] = body
    error_of(api.request(method, url, **kw), status, code)
    assert count_changes(api) == before


def test_request_body_cap(api: Api, api_ws: str) -> None:
    big = b'{"data": {"subject": "' + b"x" * (17 * 1024 * 1024) + b'"}}'
    r = api.post(f"{W}/records/tickets", content=big, headers={"Content-Type": "application/json"})
    error_of(r, 413, "payload_too_large")


def test_auth_required(api: Api, api_ws: str) -> None:
    error_of(api.get(f"{W}/records/tickets", token=None), 401, "unauthorized")
    error_of(api.get(f"{W}/records/tickets", token="dsk_wrong"), 401, "unauthorized")
    error_of(api.get(f"{W}/records/tickets", token="nope"), 401, "unauthorized")


def test_second_submitted_by_in_batch_is_409_and_nothing_written(api: Api, api_ws: str) -> None:
    before = count_changes(api)
    ops = [
        {"type": "upsert_record", "collection": "tickets", "ref": "t", "data": T},
        {
            "type": "upsert_record",
            "collection": "customers",
            "ref": "a",
            "data": {"name": "A", "email": "a@x.io"},
        },
        {
            "type": "upsert_record",
            "collection": "customers",
            "ref": "b",
            "data": {"name": "B", "email": "b@x.io"},
        },
        {
            "type": "upsert_relationship",
            "rel_type": "submitted_by",
            "source": {"collection": "tickets", "id": "$ref:t"},
            "target": {"collection": "customers", "id": "$ref:a"},
        },
        {
            "type": "upsert_relationship",
            "rel_type": "submitted_by",
            "source": {"collection": "tickets", "id": "$ref:t"},
            "target": {"collection": "customers", "id": "$ref:b"},
        },
    ]
    err = error_of(api.post(f"{W}/batch", json={"operations": ops}), 409, "conflict")
    assert err["details"]["operation_index"] == 4 and err["message"].startswith("operation 4:")
    assert count_changes(api) == before
    assert api.get(f"{W}/records/customers").json()["data"] == []

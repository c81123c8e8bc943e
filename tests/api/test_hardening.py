"""Hardening (issue 10): input a client controls is a 4xx envelope naming what is wrong, never a 5xx, and a
failed request changes nothing, on both stores; unexpected errors and a full disk keep the connection alive."""

from __future__ import annotations

import errno
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI, Request, routing
from fastapi.testclient import TestClient

from deskbase.api.paths import PATH_RULES
from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.server import build
from tests.conftest import Api

W = "/v1/workspaces/acme"
T = {"subject": "Login fails", "status": "open", "priority": "high"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def store_api(tmp_path: Path, clock: FixedClock, store_url: str) -> Iterator[Api]:
    """The API over SQLite and over PostgreSQL, with the support template in workspace `acme`."""
    settings = Settings(data_dir=str(tmp_path), database_url=store_url, replicate=False, sla_scheduler=False)
    core, app = build(settings, clock)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        a = Api(client, raw)
        a.core = core  # type: ignore[attr-defined]
        assert a.put(W, json={"name": "Acme"}).status_code == 201
        assert a.post(f"{W}/templates/support").status_code == 200
        yield a


def changes(api: Api) -> int:
    return len(api.get(f"{W}/changes?limit=1000").json()["data"])


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text[:500]
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    return body["error"]  # type: ignore[no-any-return]


def ticket_json(extra: str) -> bytes:
    """A ticket create body with raw JSON text spliced into `data` (json= cannot send what we test)."""
    return ('{"data": {"subject": "s", "status": "open", "priority": "high", ' + extra + "}}").encode()


# --- 1. path identifiers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadPath:
    name: str
    method: str
    path: str
    parameter: str


BAD_PATHS = [
    BadPath("sql comment in ws", "PUT", "/v1/workspaces/zz%20COMMENT%20'x'/queries/q1", "ws"),
    BadPath("uppercase ws", "PUT", "/v1/workspaces/Acme", "ws"),
    BadPath("quote in query name", "PUT", f"{W}/queries/q'1", "name"),
    BadPath("space in collection", "GET", f"{W}/collections/a%20b", "collection"),
    BadPath("dot in rel type", "GET", f"{W}/relationship-types/a.b", "rel_type"),
    BadPath("semicolon in record id", "GET", f"{W}/records/tickets/a;b", "rid"),
    BadPath("too long record id", "GET", f"{W}/records/tickets/{'a' * 129}", "rid"),
    BadPath("unicode ticket id", "GET", f"{W}/tickets/{quote('tïcket')}/sla", "ticket_id"),
    BadPath("percent in relationship id", "DELETE", f"{W}/relationships/a%25b", "rel_id"),
    BadPath("uppercase sla kind", "GET", f"{W}/sla/Policies", "plural"),
    BadPath("space in sla config id", "PUT", f"{W}/sla/policies/a%20b", "cid"),
    BadPath("dash-led template", "POST", f"{W}/templates/-support", "name"),
    BadPath("token id with a dot", "GET", "/v1/tokens/tok.1", "token_id"),
    BadPath("documents alias", "GET", f"{W}/documents/tickets/a%20b", "rid"),
    BadPath("ticket number beyond 64 bits", "GET", f"{W}/tickets/by-number/{'9' * 30}", "number"),
]


@pytest.mark.parametrize("case", BAD_PATHS, ids=[c.name for c in BAD_PATHS])
def test_a_path_id_breaking_its_rule_is_a_400_naming_the_parameter(
    api: Api, api_ws: str, case: BadPath
) -> None:
    before = changes(api)
    body = {"query": "SELECT 1"} if "/queries/" in case.path else {"name": "x"}
    err = error(api.request(case.method, case.path, json=body), 400, "invalid_id")
    assert err["details"]["parameter"] == case.parameter and repr(case.parameter) in err["message"]
    assert changes(api) == before


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/w/Bad%20WS/queue", "ws"),
        ("/w/acme/dashboard/panels/a%20b", "panel_id"),
        ("/w/acme/tickets/a;b", "ticket_id"),
    ],
)
def test_console_routes_check_path_ids_too(api: Api, api_ws: str, path: str, parameter: str) -> None:
    """The console answers in HTML (its error page), with the same 400 and message."""
    r = api.get(path)
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert f"invalid path parameter &#39;{parameter}&#39;" in r.text


def test_valid_ids_still_work(api: Api, api_ws: str) -> None:
    me = api.get("/v1/tokens/current").json()
    assert re.fullmatch(r"tok_[0-9a-f]+", me["id"])
    assert api.get(f"/v1/tokens/{me['id']}").status_code == 200
    assert api.get(f"{W}/sla/policies").status_code == 200
    assert api.get(f"{W}/sla/calendars").status_code == 200
    assert api.get(f"{W}/relationship-types/submitted_by").status_code == 200
    created = api.post(f"{W}/records/tickets", json={"data": T, "id": "Mixed_Case-01"})
    assert created.status_code == 201
    assert api.get(f"{W}/records/tickets/Mixed_Case-01").json()["id"] == "Mixed_Case-01"
    assert api.get(f"{W}/tickets/Mixed_Case-01/sla").status_code == 200


def test_every_path_parameter_of_the_app_has_a_rule(api: Api) -> None:
    app: FastAPI = api.client.app  # type: ignore[assignment]
    names = {
        name
        for ctx in routing.iter_route_contexts(app.routes)
        for name in re.findall(r"{([^}:]+)", getattr(ctx, "path", "") or "")
    }
    assert names, "expected routes with path parameters"
    assert names - {"path"} <= set(PATH_RULES)  # `path` is the static files mount's, not a route's


# --- 2. integers and query parameters ---------------------------------------------------------------------

HUGE = "1" + "0" * 30


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        (f"{W}/changes?after={HUGE}", "after"),
        (f"{W}/changes?limit={HUGE}", "limit"),
        (f"{W}/changes?limit=0", "limit"),
        (f"{W}/changes?after=-1", "after"),
        (f"{W}/changes?limit=ten", "limit"),
        (f"{W}/records/tickets/x/history?after=-4.8e23", "after"),
        (f"{W}/records/tickets/x/history?limit={HUGE}", "limit"),
        (f"{W}/collections/tickets/history?after={HUGE}", "after"),
        (f"{W}/records/tickets?limit={HUGE}", "limit"),
        (f"{W}/records/tickets/x/relationships?limit=-{HUGE}", "limit"),
        (f"{W}/records/tickets?include_deleted=maybe", "include_deleted"),
    ],
)
def test_a_bad_query_parameter_is_a_400_naming_it(api: Api, api_ws: str, url: str, parameter: str) -> None:
    err = error(api.get(url), 400, "bad_request")
    assert err["details"]["parameter"] == parameter and repr(parameter) in err["message"]


def test_a_bad_header_is_a_400_and_a_bad_body_a_422(api: Api, api_ws: str) -> None:
    error(api.post(f"{W}/records/tickets", json={"data": "x"}), 422, "validation_failed")
    r = api.post(f"{W}/records/tickets", json={"data": T})
    url = f"{W}/records/tickets/{r.json()['id']}"
    error(api.put(url, json={"data": T}, headers={"If-Match": "v1"}), 400, "bad_request")


@pytest.mark.parametrize(
    ("literal", "pointer"),
    [
        ('"custom": ' + HUGE, "/data/custom"),
        ('"custom": -' + HUGE, "/data/custom"),
        ('"custom": 9223372036854775808', "/data/custom"),
        ('"custom": -9223372036854775809', "/data/custom"),
        ('"custom": {"deep": [1, 18446744073709551616]}', "/data/custom/deep/1"),
    ],
)
def test_an_integer_beyond_64_bits_is_a_422_naming_its_pointer(
    store_api: Api, literal: str, pointer: str
) -> None:
    before = changes(store_api)
    r = store_api.post(f"{W}/records/tickets", content=ticket_json(literal), headers=JSON)
    err = error(r, 422, "validation_failed")
    assert err["details"]["errors"][0]["pointer"] == pointer and "64 bits" in err["message"]
    assert changes(store_api) == before


def test_64_bit_integers_and_long_digit_strings_are_kept_exactly(store_api: Api) -> None:
    body = ticket_json(
        '"big": 9223372036854775807, "small": -9223372036854775808, "phone": "00441234567890123456789"'
    )
    r = store_api.post(f"{W}/records/tickets", content=body, headers=JSON)
    assert r.status_code == 201, r.text
    got = store_api.get(f"{W}/records/tickets/{r.json()['id']}").json()["data"]
    assert (got["big"], got["small"], got["phone"]) == (2**63 - 1, -(2**63), "00441234567890123456789")


# --- 3./4. text and number rules, on both stores -------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "pointer", "says"),
    [
        ('"custom": "a\\ud800b"', "/data/custom", "surrogate"),
        ('"custom": ["\\udfff"]', "/data/custom/0", "surrogate"),
        ('"\\ud800key": 1', "/data/\\ud800key", "surrogate"),
        ('"custom": "a\\u0000b"', "/data/custom", "NUL"),
        ('"a\\u0000": 1', "/data/a\x00", "NUL"),
        ('"nested": {"x/y": ["ok", "\\u0000"]}', "/data/nested/x~1y/1", "NUL"),
        ('"custom": 1e400', "/data/custom", "finite"),
        ('"custom": -1e400', "/data/custom", "finite"),
    ],
)
def test_text_and_numbers_no_store_can_hold_are_a_422_on_both_stores(
    store_api: Api, literal: str, pointer: str, says: str
) -> None:
    before = changes(store_api)
    r = store_api.post(f"{W}/records/tickets", content=ticket_json(literal), headers=JSON)
    err = error(r, 422, "validation_failed")
    assert err["details"]["errors"][0]["pointer"] == pointer and says in err["message"]
    assert changes(store_api) == before


def test_the_rules_hold_on_every_json_body(store_api: Api) -> None:
    """Not only record data: a batch, a relationship, a patch, a workspace body follow the same rules."""
    t = store_api.post(f"{W}/records/tickets", json={"data": T}).json()
    cases = [
        (
            "POST",
            f"{W}/batch",
            '{"operations": [{"type": "upsert_record", "collection": "tickets", '
            '"data": {"subject": "\\u0000"}}]}',
            "/operations/0/data/subject",
        ),
        ("PATCH", f"{W}/records/tickets/{t['id']}", '{"data": {"subject": "\\ud800"}}', "/data/subject"),
        ("PUT", W, '{"name": "A", "settings": {"n": 1e999}}', "/settings/n"),
    ]
    before = changes(store_api)
    for method, url, raw, pointer in cases:
        err = error(
            store_api.request(method, url, content=raw.encode(), headers=JSON), 422, "validation_failed"
        )
        assert err["details"]["errors"][0]["pointer"] == pointer
    assert changes(store_api) == before


@pytest.mark.parametrize(
    ("params", "code", "parameter"),
    [
        (
            {"filter": '{"field": "data.subject", "op": "eq", "value": "a\\u0000"}'},
            "invalid_filter",
            "filter",
        ),
        ({"filter": '{"field": "data.subject", "op": "search", "value": "\\ud800"}'}, "invalid_filter", None),
        (
            {"filter": '{"field": "data.n", "op": "gt", "value": 99999999999999999999}'},
            "invalid_filter",
            "filter",
        ),
        ({"filter": '{"field": "data.subject", "op": "search", "value": "a\x00b"}'}, "bad_request", "filter"),
        ({"sort": '[{"field": "data.\\u0000"}]'}, "invalid_filter", "sort"),
        ({"cursor": "abc\x00"}, "bad_request", "cursor"),
    ],
)
def test_query_string_text_follows_the_same_rules(
    store_api: Api, params: dict[str, str], code: str, parameter: str | None
) -> None:
    err = error(store_api.get(f"{W}/records/tickets", params=params), 400, code)
    if parameter:
        assert parameter in err["message"]


def test_nan_is_not_json(store_api: Api) -> None:
    before = changes(store_api)
    for literal in ("NaN", "Infinity", "-Infinity"):
        r = store_api.post(f"{W}/records/tickets", content=ticket_json(f'"n": {literal}'), headers=JSON)
        assert literal in error(r, 400, "invalid_json")["message"]
    assert changes(store_api) == before


# --- 5. bodies that are not JSON, or not sent as JSON ----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"data": {"subject": "\xff\xfe"}}', "UTF-8"),
        (b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested deeper than 1024"),
        (b'{"data": {"a": 1,}}', "not valid JSON"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
    ],
    ids=["invalid utf-8", "5000 deep", "trailing comma", "bom"],
)
def test_a_body_that_is_not_json_is_a_400_invalid_json(api: Api, api_ws: str, body: bytes, says: str) -> None:
    before = changes(api)
    assert (
        says
        in error(api.post(f"{W}/records/tickets", content=body, headers=JSON), 400, "invalid_json")["message"]
    )
    assert changes(api) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_sent_with_the_wrong_type_is_a_415_that_says_so(
    api: Api, api_ws: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    raw = b'{"data": {"subject": "s", "status": "open", "priority": "high"}}'
    if content_type is None:
        headers = {"Content-Type": ""}
    r = api.post(f"{W}/records/tickets", content=raw, headers=headers)
    assert "send Content-Type: application/json" in error(r, 415, "unsupported_media_type")["message"]


def test_a_wrongly_typed_body_that_is_not_json_stays_a_422(api: Api, api_ws: str) -> None:
    r = api.post(f"{W}/records/tickets", content=b"subject=hello", headers={"Content-Type": "text/plain"})
    error(r, 422, "validation_failed")


def test_json_with_a_charset_or_a_json_suffix_type_is_json(api: Api, api_ws: str) -> None:
    raw = b'{"data": {"subject": "s", "status": "open", "priority": "high"}}'
    for ctype in ("application/json; charset=utf-8", "application/merge-patch+json"):
        assert (
            api.post(f"{W}/records/tickets", content=raw, headers={"Content-Type": ctype}).status_code == 201
        )


def test_the_body_cap_still_applies_to_json(api: Api, api_ws: str) -> None:
    big = b'{"data": {"subject": "' + b"x" * (17 * 1024 * 1024) + b'"}}'
    error(api.post(f"{W}/records/tickets", content=big, headers=JSON), 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap counts what arrives
        yield b'{"data": {"subject": "'
        for _ in range(17):
            yield b"x" * (1024 * 1024)
        yield b'"}}'

    error(api.post(f"{W}/records/tickets", content=chunks(), headers=JSON), 413, "payload_too_large")


# --- 8. the record id rule ---------------------------------------------------------------------------------


def test_record_ids_are_strings_following_the_id_rule(store_api: Api) -> None:
    before = changes(store_api)
    for bad in ("a b", "-lead", "_lead", "x" * 129, "ünï", "a/b", ""):
        r = store_api.post(f"{W}/records/tickets", json={"data": T, "id": bad})
        assert error(r, 400, "invalid_id")["details"]["field"] == "record", bad
    assert changes(store_api) == before
    for good in ("not-a-uuid", "T_1", "x" * 128, "01a24f07-e56d-7109-9efb-2fe1ff512b4f"):
        r = store_api.post(f"{W}/records/tickets", json={"data": T, "id": good})
        assert r.status_code == 201 and r.json()["id"] == good
        assert store_api.get(f"{W}/records/tickets/{good}").status_code == 200


# --- 6. a full disk, and the connection after a 5xx --------------------------------------------------------


def fill_the_store(api: Api) -> None:
    """Make the store answer every growing write with its real "storage full" error: SQLite's SQLITE_FULL
    (`max_page_count` pinned to the current size on every new connection), PostgreSQL's class 53 `disk_full`
    (raised by a trigger, as the server does when it cannot extend a file)."""
    engine = api.core.db.engine  # type: ignore[attr-defined]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

        @sa.event.listens_for(engine, "connect")
        def _pin(dbapi_conn: Any, _: Any) -> None:
            dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

        engine.dispose()
        return
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION deskbase_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; "
            "END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER deskbase_disk_full BEFORE INSERT ON changes "
            "FOR EACH ROW EXECUTE FUNCTION deskbase_disk_full()"
        )


def test_a_full_disk_is_a_503_with_retry_after_and_writes_nothing(store_api: Api) -> None:
    t = store_api.post(f"{W}/records/tickets", json={"data": T}).json()
    before = changes(store_api)
    fill_the_store(store_api)
    big = {**T, "description": "x" * 400_000}
    for r in (
        store_api.post(f"{W}/records/tickets", json={"data": big}),
        store_api.patch(f"{W}/records/tickets/{t['id']}", json={"data": {"description": "y" * 400_000}}),
    ):
        err = error(r, 503, "unavailable")
        assert "storage" in err["message"] and r.headers["Retry-After"] == "30"
    assert changes(store_api) == before
    assert store_api.get(f"{W}/records/tickets/{t['id']}").json()["version"] == t["version"]


def test_a_full_file_system_anywhere_is_a_503(api: Api) -> None:
    """ENOSPC from a file write (the admin token, a backup, chDB's files) is the same 503 as a full store."""

    @api.client.app.get("/test-only/enospc")  # type: ignore[attr-defined]
    def enospc() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    r = api.get("/test-only/enospc")
    assert error(r, 503, "unavailable") and r.headers["Retry-After"] == "30"


def test_an_unexpected_error_is_logged_and_a_safe_500(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    @api.client.app.get("/test-only/boom")  # type: ignore[attr-defined]
    def boom() -> None:
        raise RuntimeError("secret detail /var/lib/x")

    r = api.get("/test-only/boom")
    assert "/var/lib" not in error(r, 500, "internal")["message"]
    logged = [rec for rec in caplog.records if rec.name == "deskbase.api" and rec.exc_info]
    assert logged and "secret detail" in str(logged[0].exc_info[1])  # type: ignore[index]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[str]:
    """A real uvicorn server on a free port, with test-only routes: one fails, one echoes the client port."""
    settings = Settings(data_dir=str(tmp_path), replicate=False, sla_scheduler=False)

    def extra(app: FastAPI, _: Any) -> None:
        @app.get("/test-only/boom")
        def boom() -> None:
            raise RuntimeError("boom")

        @app.get("/test-only/port")
        def port(request: Request) -> dict[str, int]:
            assert request.client is not None
            return {"port": request.client.port}

    _, app = build(settings, extra=[extra])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(20)


def test_a_5xx_keeps_the_connection_alive(live: str) -> None:
    with httpx.Client(base_url=live, timeout=10) as client:
        first = client.get("/test-only/port").json()["port"]
        r = client.get("/test-only/boom")
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal"
        assert r.headers.get("connection", "").lower() != "close"
        again = client.get("/test-only/port")
        assert again.status_code == 200 and again.json()["port"] == first  # the same TCP connection

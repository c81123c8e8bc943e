"""The SQL endpoint's resource limits (issue 10): the time limit holds whatever the query computes, concurrency
is capped per token, per workspace and per server, results are capped in bytes, workspace names never reach
ClickHouse DDL unchecked, and integer parameters are range-checked. Each case goes through HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deskbase.analytics.errors import QueryError
from deskbase.analytics.service import Analytics
from deskbase.analytics.sql import bind_parameters
from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.server import build
from tests.conftest import Api

W = "/v1/workspaces/acme"
MIB = 1024**2
#: Two rows of one editDistance each costing seconds: ClickHouse checks its time limit (and KILL) only between
#: blocks, so without a watchdog a 1 s limit answers after both rows (~7 s here).
UNINTERRUPTIBLE = (
    "SELECT sum(editDistance(repeat('a', 30000), repeat(char(98 + number % 20), 30000))) FROM numbers(2)"
)

MakeApi = Callable[..., Api]


@pytest.fixture
def make_api(tmp_path: Path, clock: FixedClock, chdb_engine: Any) -> Iterator[MakeApi]:
    """An API on the shared engine with the given settings and a workspace `acme`."""
    with ExitStack() as stack:

        def make(**settings: Any) -> Api:
            core, app = build(
                Settings(data_dir=str(tmp_path), sla_scheduler=False, rate_limit_per_second=0, **settings),
                clock,
                engine=chdb_engine,
            )
            raw, _ = core.tokens.ensure_admin_token(tmp_path)
            client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
            api = Api(client, raw)
            api.core = core  # type: ignore[attr-defined]
            api.analytics = app.state.core.extensions[Analytics]  # type: ignore[attr-defined]
            api.token_id = core.tokens.authenticate(raw).id  # type: ignore[attr-defined]
            assert api.put(W, json={"name": "Acme"}).status_code == 201
            return api

        yield make


def sql(api: Api, query: str, **body: Any) -> Any:
    return api.post(f"{W}/sql", json={"query": query, **body})


def error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]  # type: ignore[no-any-return]


def engine_idle(api: Api, within: float = 60.0) -> bool:
    """Wait until no admitted query is left on the engine (abandoned ones included)."""
    deadline = time.monotonic() + within
    while api.analytics.gate.running and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)
    return api.analytics.gate.running == 0  # type: ignore[attr-defined, no-any-return]


def databases(api: Api, prefix: str) -> list[str]:
    rows = api.analytics.engine.execute(  # type: ignore[attr-defined]
        "SELECT name FROM system.databases WHERE startsWith(name, {p:String})", {"p": prefix}
    ).rows
    return [r[0] for r in rows]


# ----------------------------------------------------------------------------------------------- time


def test_a_query_the_engine_cannot_interrupt_is_answered_by_its_limit(make_api: MakeApi) -> None:
    """The answer does not wait for the engine: when the 504 arrives, the query is still running there (a
    bound on the elapsed time said the same until a loaded CI machine stretched it)."""
    api = make_api(sql_max_execution_seconds=1.0)
    resp = sql(api, UNINTERRUPTIBLE)
    still_running = api.analytics.gate.running  # type: ignore[attr-defined]
    err = error(resp, 504, "query_timeout")
    assert err["details"]["limit"] == "max_execution_time"
    assert still_running == 1
    assert engine_idle(api, within=180)  # the query's natural end: seconds here, over a minute under load


def test_a_timed_out_query_counts_against_its_token_until_the_engine_stops(make_api: MakeApi) -> None:
    api = make_api(sql_max_execution_seconds=1.0, sql_max_concurrent_per_token=1)
    error(sql(api, UNINTERRUPTIBLE), 504, "query_timeout")
    # The engine is still inside the first row: the token's one slot is taken.
    err = error(sql(api, "SELECT 1"), 429, "rate_limited")
    assert err["details"]["limit"] == "sql_max_concurrent_per_token"
    assert engine_idle(api)
    assert sql(api, "SELECT 1").json()["data"] == [[1]]


# -------------------------------------------------------------------------------------------- concurrency


@pytest.mark.parametrize(
    ("setting", "holder"),
    [
        ("sql_max_concurrent_per_token", lambda api: (api.token_id, "elsewhere")),
        ("sql_max_concurrent_per_workspace", lambda api: ("another-token", "acme")),
        ("sql_max_concurrent", lambda api: ("another-token", "elsewhere")),
    ],
    ids=["per-token", "per-workspace", "server"],
)
def test_queries_beyond_a_concurrency_cap_get_429(
    make_api: MakeApi, setting: str, holder: Callable[[Api], tuple[str, str]]
) -> None:
    api = make_api(**{setting: 1})
    assert api.put(f"{W}/queries/one", json={"query": "SELECT 1"}).status_code == 201
    ticket = api.analytics.gate.admit(*holder(api))  # type: ignore[attr-defined]
    try:
        for resp in (sql(api, "SELECT 1"), api.post(f"{W}/queries/one/run", json={})):
            err = error(resp, 429, "rate_limited")
            assert err["details"] == {"retry_after": 1, "limit": setting, "value": 1}
            assert resp.headers["Retry-After"] == "1"
    finally:
        ticket.release()
    assert sql(api, "SELECT 1").json()["data"] == [[1]]
    assert api.analytics.gate.running == 0  # type: ignore[attr-defined]


def test_query_threads_block_size_and_priority_come_from_settings(make_api: MakeApi) -> None:
    """Not visible over HTTP (the guard refuses getSetting), so read on the engine with the API's limits."""
    api = make_api(sql_max_threads=1)
    limits = api.analytics.limits()  # type: ignore[attr-defined]
    assert limits.max_threads == 1
    row = api.analytics.engine.query_readonly(  # type: ignore[attr-defined]
        "SELECT getSetting('max_threads'), getSetting('max_block_size'), getSetting('os_thread_priority')",
        {},
        limits,
    ).rows[0]
    assert row == [1, limits.max_block_size, 19]


# ------------------------------------------------------------------------------------------- result size


@pytest.mark.parametrize("fmt", ["json", "csv", "ndjson"])
@pytest.mark.parametrize(
    "query",
    [
        "SELECT repeat('a', 50000) AS x FROM numbers(100)",  # 5 MB in a single block
        "SELECT repeat('a', 500) AS x FROM numbers(9000)",  # 4.5 MB over several blocks
    ],
    ids=["one-block", "many-blocks"],
)
def test_a_result_beyond_the_byte_cap_is_refused(make_api: MakeApi, fmt: str, query: str) -> None:
    api = make_api(sql_max_result_bytes=MIB)
    err = error(sql(api, query, format=fmt), 413, "payload_too_large")
    assert err["details"]["limit"] == "sql_max_result_bytes" and err["details"]["value"] == MIB
    assert api.analytics.gate.running == 0  # type: ignore[attr-defined]


def test_a_result_under_the_byte_cap_is_whole(make_api: MakeApi) -> None:
    api = make_api(sql_max_result_bytes=MIB)
    body = sql(api, "SELECT repeat('a', 1000) AS x FROM numbers(500)").json()
    assert body["rows"] == 500 and body["truncated"] is False and body["data"][0] == ["a" * 1000]
    empty = sql(api, "SELECT 1 AS one WHERE 0").json()
    assert empty["meta"] == [{"name": "one", "type": "UInt8"}] and empty["data"] == []


# -------------------------------------------------------------------------------------------- identifiers


def test_a_workspace_name_with_sql_in_it_creates_no_database(make_api: MakeApi) -> None:
    api = make_api()
    resp = api.put("/v1/workspaces/zz%20COMMENT%20'x'/queries/q1", json={"query": "SELECT 1"})
    assert 400 <= resp.status_code < 500, resp.text
    assert set(resp.json()["error"]) == {"code", "message", "details"}
    assert databases(api, "ws_zz") == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/workspaces/nosuch/queries/q1", {"query": "SELECT 1"}),
        ("POST", "/v1/workspaces/nosuch/sql", {"query": "SELECT 1"}),
    ],
    ids=["save-query", "run-sql"],
)
def test_an_unknown_workspace_is_404_before_any_database_exists(
    make_api: MakeApi, method: str, path: str, body: dict[str, Any]
) -> None:
    api = make_api()
    error(api.request(method, path, json=body), 404, "not_found")
    assert databases(api, "ws_nosuch") == []


# ------------------------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("declared", "value"),
    [
        ("UInt8", str(10**30)),
        ("UInt8", 300),
        ("UInt8", -1),
        ("Nullable(Int8)", "200"),
        ("Array(UInt16)", [1, 70000]),
        ("Int64", str(2**63)),
        ("UInt64", str(2**64)),
    ],
    ids=[
        "uint8-huge-text",
        "uint8-300",
        "uint8-negative",
        "nullable-int8-text",
        "array-uint16",
        "int64-overflow",
        "uint64-overflow",
    ],
)
def test_integer_parameters_out_of_range_are_refused(make_api: MakeApi, declared: str, value: Any) -> None:
    """ClickHouse would wrap these silently ({x:UInt8} = 10^30 reads as 0, 300 as 44)."""
    api = make_api()
    err = error(sql(api, f"SELECT {{x:{declared}}} AS x", params={"x": value}), 400, "query_error")
    assert err["details"]["parameter"] == "x" and "'x'" in err["message"]


def test_an_integer_beyond_64_bits_never_reaches_the_engine(make_api: MakeApi) -> None:
    """Over HTTP the body parser refuses it (422); the core refuses it for any declared type (400)."""
    api = make_api()
    resp = sql(api, "SELECT {x:UInt8} AS x", params={"x": 10**30})
    assert resp.status_code in (400, 422) and resp.json()["error"]["code"] in (
        "query_error",
        "validation_failed",
    )
    with pytest.raises(QueryError, match=r"'x'.*beyond 64 bits"):
        bind_parameters({"x": "String"}, "acme", {"x": 10**30})


@pytest.mark.parametrize(
    ("declared", "value", "expected"),
    [
        ("UInt8", 255, 255),
        ("Int8", -128, -128),
        ("UInt64", str(2**64 - 1), 2**64 - 1),
        ("Int64", -(2**63), -(2**63)),
    ],
)
def test_integer_parameters_at_their_bounds_pass(
    make_api: MakeApi, declared: str, value: Any, expected: int
) -> None:
    api = make_api()
    assert sql(api, f"SELECT {{x:{declared}}} AS x", params={"x": value}).json()["data"] == [[expected]]

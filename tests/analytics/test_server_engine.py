"""The server engine (clickhouse-connect) driven end to end in process through clickhouse-connect's chDB
backend: no server and no stand-in, the same client API the HTTP transport serves.

What the chDB backend cannot show (it has no users, and it cannot feed ``input()``): the per-workspace users
(their statements are pinned as text in test_server_statements.py; here, that provisioning reaches the engine
and fails loudly where access management is missing) and the bulk insert's request body, which the HTTP test
at the end records through a stand-in for the server's HTTP interface (transport only: it runs what it can on
chDB). docs/deploy.md lists what has not run against a real server.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests.analytics._chdb import (
    ALLOWED_TABLES,
    WORKSPACE_A,
    WORKSPACE_B,
    seed_sandbox_workspaces,
    shared_engine,
)
from tests.analytics._http_standin import standin

from deskbase.analytics.chdb_engine import ChdbEngine
from deskbase.analytics.engine import EngineError, Limits
from deskbase.analytics.errors import PayloadTooLarge, QueryError, QueryRejected, QueryTimeout
from deskbase.analytics.inline import INLINE_ROWS
from deskbase.analytics.server import ServerEngine, http_connector, parse_server_url
from deskbase.analytics.server_access import Login
from deskbase.analytics.service import Analytics
from deskbase.analytics.sql import run_sql
from deskbase.compose import compose
from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.core.errors import Unavailable
from deskbase.server import build

SEED_QUERIES = Path("/work/shared/seed/queries")


def chdb_connector(path: str) -> Any:
    """clickhouse-connect clients on the test process's one chDB path (a Login's user is ignored: no users)."""
    import clickhouse_connect

    def connect(login: Login, settings: Mapping[str, str]) -> Any:
        return clickhouse_connect.get_client(
            interface="chdb", path=path, database=login.database or None, settings=dict(settings)
        )

    return connect


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> ChdbEngine:
    engine = shared_engine(tmp_path_factory)
    seed_sandbox_workspaces(engine)
    return engine


@pytest.fixture(scope="module")
def server(embedded: ChdbEngine) -> Iterator[ServerEngine]:
    engine = ServerEngine(
        chdb_connector(embedded.path), label="chDB via clickhouse-connect", input_data=False
    )
    yield engine
    engine.close()


def run(
    engine: Any,
    query: str,
    params: dict[str, Any] | None = None,
    workspace: tuple[str, str] = WORKSPACE_A,
    limits: Limits | None = None,
) -> dict[str, Any]:
    database, workspace_id = workspace
    return run_sql(engine, database, workspace_id, query, params or {}, limits or Limits(), ALLOWED_TABLES)


def same(result: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    return result["meta"], result["data"], result["rows"], result["truncated"]


# ------------------------------------------------------------------------------- one SQL path, same answers


@pytest.mark.parametrize("name", sorted(p.name for p in SEED_QUERIES.glob("*.sql")))
def test_seed_queries_answer_as_on_the_embedded_engine(
    name: str, embedded: ChdbEngine, server: ServerEngine
) -> None:
    query = (SEED_QUERIES / name).read_text()
    for workspace in (WORKSPACE_A, WORKSPACE_B):
        expected = run(embedded, query, workspace=workspace)
        assert expected["data"]
        assert same(run(server, query, workspace=workspace)) == same(expected)


@pytest.mark.parametrize(
    ("query", "params"),
    [
        (
            "SELECT toUInt64(18446744073709551615) AS u, toDecimal64(12.5, 2) AS dec, "
            "toDateTime64('2024-01-02 03:04:05.678', 3, 'UTC') AS ts, toDate('2024-01-02') AS d, map('a', 1) AS m, "
            "['x', NULL]::Array(Nullable(String)) AS arr, toInt128('-170141183460469231731687303715884105728') AS wide, "
            "nan AS f, CAST((1, 'x'), 'Tuple(a UInt8, b String)') AS tup",
            None,
        ),
        (
            "SELECT {s:String} AS s, {xs:Array(String)} AS xs, {n:Int64} AS n, {b:Bool} AS b",
            {"s": 'it\'s \\ a "test"\nwith\ttabs {x:String}', "xs": ["a'b", "c"], "n": -5, "b": True},
        ),
        (
            "SELECT id, data.status, data.tags FROM records FINAL WHERE collection = 'tickets' ORDER BY id",
            None,
        ),
        ("SELECT number FROM numbers(3) WHERE number > 5", None),
    ],
    ids=["types", "parameters", "json-subcolumns", "empty"],
)
def test_results_and_parameters_are_rendered_alike(
    query: str, params: dict[str, Any] | None, embedded: ChdbEngine, server: ServerEngine
) -> None:
    assert same(run(server, query, params)) == same(run(embedded, query, params))


def test_row_cap_marks_truncated(server: ServerEngine) -> None:
    result = run(server, "SELECT number FROM numbers(50)", limits=Limits(max_result_rows=10))
    assert result["rows"] == 10 and result["truncated"] is True


# -------------------------------------------------------------------------------------------- the sandbox


def test_writes_are_refused_by_the_engine_behind_the_guard(server: ServerEngine) -> None:
    """The guard refuses an INSERT first; the read-only client refuses it too when handed one directly."""
    with pytest.raises(QueryRejected) as info:
        server.query_readonly("INSERT INTO records (id) VALUES ('x')", {}, Limits(), database=WORKSPACE_A[0])
    assert info.value.details["kind"] == "readonly"
    with pytest.raises(QueryRejected):
        server.query_readonly(
            "CREATE TABLE evil (a UInt8) ENGINE = Memory", {}, Limits(), database=WORKSPACE_A[0]
        )


def test_result_past_the_byte_cap_is_refused(server: ServerEngine) -> None:
    with pytest.raises(PayloadTooLarge):
        run(
            server,
            "SELECT number, repeat('x', 100) FROM numbers(10000)",
            limits=Limits(max_result_bytes=100_000),
        )


def test_time_limit_is_the_engines(server: ServerEngine) -> None:
    with pytest.raises(QueryTimeout):
        server.query_readonly(
            "SELECT count() FROM numbers(100000000000)",
            {},
            Limits(max_execution_time=0.3, max_rows_to_read=10**12),
            database=WORKSPACE_A[0],
        )


def test_cancel_by_tag_is_accepted(server: ServerEngine) -> None:
    server.cancel("0" * 32)  # nothing runs with that tag: the KILL finds nothing and returns
    with pytest.raises(ValueError):
        server.cancel("x' OR 1 --")


def test_inserts_by_arrow_and_by_expression(server: ServerEngine) -> None:
    """Arrow columns by name; expressions over raw rows, inline (few rows) and as a large inlined batch."""
    server.execute(server.ddl.create_database("server_scratch"))
    try:
        server.execute(
            server.ddl.create_table(
                "server_scratch",
                "t",
                "(id String, n UInt64, doc JSON) ENGINE = ReplacingMergeTree(n) ORDER BY id",
            )
        )
        rows = pa.table(
            {"id": ["a", "b"], "n": pa.array([1, 2], pa.uint64()), "doc": ['{"k": 1}', '{"k": 2}']}
        )
        assert server.insert_arrow("server_scratch", "t", rows) == 2
        raw = pa.table(
            {"key": [f"r{i}" for i in range(1000)], "v": list(range(1000)), "j": ['{"x": "y"}'] * 1000}
        )
        columns = {"id": "key", "n": "v + 10", "doc": "j::JSON"}
        assert server.insert_select("server_scratch", "t", columns, raw.slice(0, 3)) == 3
        assert server.insert_select("server_scratch", "t", columns, raw) == 1000
        got = server.execute("SELECT count(), sum(n), countIf(doc.x = 'y') FROM server_scratch.t FINAL")
        assert got.rows == [[1002, 3 + sum(range(10, 1010)), 1000]]
    finally:
        server.execute(server.ddl.drop_database("server_scratch"))


def test_admin_failures_are_engine_errors_without_paths(server: ServerEngine) -> None:
    with pytest.raises(EngineError) as info:
        server.execute("SELECT * FROM no_such_db.no_such_table")
    assert info.value.clickhouse_name == "UNKNOWN_DATABASE"
    assert "HTTPDriver" not in str(info.value) and "chdb" not in str(info.value).lower()


# ---------------------------------------------------------------------------------------- the replica on it


@pytest.fixture
def replica(tmp_path: Path, clock: FixedClock, server: ServerEngine) -> Iterator[tuple[Any, Analytics]]:
    settings = Settings(data_dir=str(tmp_path), sla_scheduler=False, webhooks=False)
    core, _app = build(settings, clock, engine=server)
    analytics: Analytics = core.extensions[Analytics]
    core.workspaces.put("acme", "Acme", None, SYSTEM)
    core.templates.apply("acme", "support", SYSTEM)
    yield core, analytics
    analytics.replica.stop()
    core.close()


def test_replica_replicates_through_the_server_engine(replica: tuple[Any, Analytics]) -> None:
    """Records in bulk (past the inline size) and one by one, a deletion, a collection deleted: the replica
    answers SQL like the primary store and verifies clean."""
    core, analytics = replica
    core.collections.upsert("acme", "things", {"name": "Things", "json_schema": {"type": "object"}}, SYSTEM)
    for i in range(450):
        core.records.create(
            "acme", "things", {"id": f"t{i:03}", "data": {"n": i, "name": f"thing {i}"}}, SYSTEM
        )
    analytics.replica.catch_up()
    got = analytics.sql(
        "acme",
        "SELECT count(), sum(data.n::Int64) FROM records FINAL WHERE collection = 'things' AND NOT deleted",
    )
    assert got["data"] == [[450, sum(range(450))]]
    core.records.delete("acme", "things", "t000", SYSTEM)
    got = analytics.sql(
        "acme", "SELECT count() FROM records FINAL WHERE collection = 'things' AND NOT deleted"
    )
    assert got["data"] == [[449]]
    assert analytics.replica.verify() == []
    core.collections.delete("acme", "things", SYSTEM)
    got = analytics.sql("acme", "SELECT count() FROM records WHERE collection = 'things'")
    assert got["data"] == [[0]]
    assert analytics.replica.verify() == []


def test_workspace_users_are_provisioned_with_the_database(embedded: ChdbEngine) -> None:
    """With workspace users on, creating a workspace's database issues the access statements; chDB has no
    access management, so they fail loudly here instead of leaving SQL to run unconfined."""
    engine = ServerEngine(
        chdb_connector(embedded.path), passwords=lambda user: "pw-" + user, input_data=False
    )
    try:
        with pytest.raises(EngineError) as info:
            engine.provision("ws_provisioned")
        assert info.value.clickhouse_name == "ACCESS_DENIED"
        assert "CREATE SETTINGS PROFILE" in str(info.value)  # the first statement: the profile
    finally:
        engine.close()


# ------------------------------------------------------------------------------------------------ compose


def test_compose_with_an_unreachable_server_fails_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        settings = Settings(
            data_dir=str(tmp_path),
            clickhouse_url=f"http://deskbase:hunter2@127.0.0.1:{port}",
            sla_scheduler=False,
            webhooks=False,
            notifications=False,
            mail_outbound=False,
            imap_fetch=False,
        )
        with pytest.raises(Unavailable) as info:
            compose(settings)
    message = info.value.message
    assert message.startswith(f"cannot reach the ClickHouse server http://deskbase@127.0.0.1:{port}")
    assert "\n" not in message and "hunter2" not in message


def test_compose_refuses_a_bad_server_url_in_one_line(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), clickhouse_url="ch.example.com:8123", sla_scheduler=False)
    with pytest.raises(Unavailable, match="must be an http:// or https:// URL"):
        compose(settings)


# ------------------------------------------------------------------------------------- the HTTP transport


def test_http_transport_against_a_standin(embedded: ChdbEngine) -> None:
    """clickhouse-connect over real HTTP (a stand-in for the server's interface that runs requests on chDB):
    credentials travel as Basic auth, never in the URL; settings and parameters as URL parameters; a seed
    query streams back over the socket and decodes like the embedded engine's; a bulk insert sends the
    statement in the URL and the rows as the body; a server error is an EngineError naming it."""
    with standin(embedded.path) as (base, seen):
        url = base.replace("http://", "http://deskbase:s3cr%40t@")
        engine = ServerEngine(http_connector(parse_server_url(url)), input_data=True)
        try:
            assert engine.execute("SELECT {s:String} AS s", {"s": "it's\nhere"}).rows == [["it's\nhere"]]
            query = (SEED_QUERIES / "agent_workload.sql").read_text()
            assert same(run(engine, query)) == same(run(embedded, query))
            source = pa.table(
                {"id": [f"r{i}" for i in range(INLINE_ROWS + 1)], "n": list(range(INLINE_ROWS + 1))}
            )
            engine.insert_select("sandbox_a", "records", {"id": "id", "version": "n"}, source)
            bulk = seen[-1]
            assert bulk.query == (
                "INSERT INTO `sandbox_a`.`records` (`id`, `version`) SELECT id, n FROM "
                "input('`id` Nullable(String), `n` Nullable(Int64)') FORMAT JSONCompactEachRow"
            )
            assert bulk.body is not None and bulk.body.split(b"\n")[:2] == [b'["r0",0]', b'["r1",1]']
            with pytest.raises(EngineError) as info:
                engine.execute("SELECT * FROM no_such_db.t")
            assert info.value.clickhouse_name == "UNKNOWN_DATABASE"
            assert base not in str(info.value)
            with pytest.raises(QueryError) as failed:
                run(engine, "SELECT throwIf(number = 1) FROM numbers(3)")
            assert "throwIf" in failed.value.message and base not in failed.value.message
        finally:
            engine.close()
    auth = base64.b64encode(b"deskbase:s3cr@t").decode()
    assert all(r.headers.get("Authorization") == f"Basic {auth}" for r in seen)
    assert not any("s3cr" in value for r in seen for value in r.params.values())
    readonly = [r for r in seen if "/* q:" in r.query and "agent" in r.query]
    assert (
        readonly
        and readonly[0].params["readonly"] == "2"
        and readonly[0].params["max_result_rows"] == "10001"
    )
    assert readonly[0].params["database"] == "sandbox_a"

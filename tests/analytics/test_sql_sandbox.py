"""The SQL endpoint end to end on a real chDB: seed queries, legitimate SQL, limits, results and formats."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from tests.analytics._chdb import (
    ALLOWED_TABLES,
    WORKSPACE_A,
    WORKSPACE_B,
    seed_sandbox_workspaces,
    shared_engine,
)

from deskbase.analytics.chdb_engine import ChdbEngine
from deskbase.analytics.engine import EngineError, Limits, clean_message, render_param
from deskbase.analytics.errors import QueryError, QueryRejected, QueryTimeout
from deskbase.analytics.sql import format_csv, format_ndjson, run_sql

SEED_QUERIES = Path("/work/shared/seed/queries")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> ChdbEngine:
    engine = shared_engine(tmp_path_factory)
    seed_sandbox_workspaces(engine)
    return engine


def run(
    engine: ChdbEngine,
    query: str,
    params: dict[str, Any] | None = None,
    limits: Limits | None = None,
    workspace: tuple[str, str] = WORKSPACE_A,
) -> dict[str, Any]:
    database, workspace_id = workspace
    return run_sql(engine, database, workspace_id, query, params or {}, limits or Limits(), ALLOWED_TABLES)


# ------------------------------------------------------------------------------------------ seed queries


def test_seed_agent_workload(engine: ChdbEngine) -> None:
    result = run(engine, (SEED_QUERIES / "agent_workload.sql").read_text())
    assert [m["name"] for m in result["meta"]] == ["agent", "active_tickets", "urgent_count"]
    assert result["data"] == [["alice", 2, 1], ["bob", 1, 1]]


def test_seed_open_tickets_by_priority(engine: ChdbEngine) -> None:
    result = run(engine, (SEED_QUERIES / "open_tickets_by_priority.sql").read_text())
    assert result["data"][0] == ["urgent", 2]
    assert dict(map(tuple, result["data"])) == {"urgent": 2, "high": 1, "low": 1}


def test_seed_tickets_by_category_and_channel(engine: ChdbEngine) -> None:
    result = run(engine, (SEED_QUERIES / "tickets_by_category_and_channel.sql").read_text())
    assert result["data"][0] == ["billing", "email", 2]
    assert {(c, ch): n for c, ch, n in result["data"]} == {
        ("billing", "email"): 2,
        ("technical", "chat"): 1,
        ("account", "phone"): 1,
        ("technical", "email"): 1,
        ("account", "chat"): 1,
    }


def test_seed_tickets_by_customer_plan(engine: ChdbEngine) -> None:
    result = run(engine, (SEED_QUERIES / "tickets_by_customer_plan.sql").read_text())
    assert result["data"] == [["pro", 3], ["free", 2], ["enterprise", 1]]


def test_seed_queries_see_only_their_workspace(engine: ChdbEngine) -> None:
    result = run(engine, (SEED_QUERIES / "agent_workload.sql").read_text(), workspace=WORKSPACE_B)
    assert result["data"] == [["mallory", 2, 2]]


# -------------------------------------------------------------------------------------- legitimate SQL

LIVE_TICKETS = "FROM records FINAL WHERE collection = 'tickets' AND NOT deleted"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            f"SELECT id, row_number() OVER (ORDER BY created_at) AS n {LIVE_TICKETS} ORDER BY n",
            [["t1", 1], ["t2", 2], ["t3", 3], ["t4", 4], ["t5", 5], ["t7", 6]],
            id="window-function",
        ),
        pytest.param(
            "SELECT tag, count() AS c FROM records FINAL ARRAY JOIN data.tags.:`Array(Nullable(String))` AS tag "
            "WHERE collection = 'tickets' AND NOT deleted GROUP BY tag ORDER BY c DESC, tag",
            [["vip", 3], ["billing", 2], ["bug", 2]],
            id="array-join-tags",
        ),
        pytest.param(
            "WITH urgent AS (SELECT id FROM records FINAL WHERE data.priority.:String = 'urgent' AND NOT deleted) "
            "SELECT count() FROM relationships FINAL WHERE source_id IN urgent AND NOT deleted",
            [[3]],
            id="in-over-cte",
        ),
        pytest.param(
            "WITH urgent AS (SELECT id FROM records FINAL WHERE data.priority.:String = 'urgent') "
            "SELECT count() FROM relationships FINAL WHERE source_id IN (SELECT id FROM urgent)",
            [[3]],
            id="in-subquery-over-cte",
        ),
        pytest.param(
            "SELECT * FROM (SELECT 'records' AS t, count() FROM records FINAL WHERE collection = 'customers' "
            "UNION ALL SELECT 'relationships', count() FROM relationships FINAL WHERE NOT deleted) ORDER BY t",
            [["records", 3], ["relationships", 6]],
            id="union-all",
        ),
        pytest.param(
            f"SELECT data.assignee.:String AS a, id {LIVE_TICKETS} ORDER BY a, created_at LIMIT 1 BY a",
            [["alice", "t1"], ["bob", "t3"], ["carol", "t5"], ["dave", "t7"]],
            id="limit-by",
        ),
        pytest.param(
            f"SELECT countIf(data.priority.:String = 'urgent'), argMax(id, created_at), "
            f"quantiles(0.5)(toUInt32(substring(id, 2))) {LIVE_TICKETS}",
            [[3, "t7", [3.5]]],
            id="countif-argmax-quantiles",
        ),
        pytest.param(
            "SELECT id, data.plan.:String, data.name.:String FROM records FINAL "
            "WHERE collection = 'customers' ORDER BY id",
            [["c1", "pro", "Acme"], ["c2", "free", "Beta"], ["c3", "enterprise", "Corp"]],
            id="json-subcolumns",
        ),
        pytest.param(
            f"SELECT toStartOfDay(created_at) AS day, count() {LIVE_TICKETS} GROUP BY day ORDER BY day LIMIT 2",
            [["2024-03-01T00:00:00Z", 2], ["2024-03-02T00:00:00Z", 1]],
            id="to-start-of-day",
        ),
        pytest.param(
            f"SELECT dateDiff('hour', min(created_at), max(created_at)), max(created_at) < now() {LIVE_TICKETS}",
            [[99, True]],
            id="datediff-now",
        ),
        pytest.param(
            "SELECT data FROM records FINAL WHERE id = 'c1'",
            [[{"name": "Acme", "plan": "pro"}]],
            id="json-object",
        ),
        pytest.param(
            "SELECT t.id, c.data.plan.:String FROM records AS t FINAL "
            "LEFT JOIN relationships AS r FINAL ON r.source_id = t.id AND NOT r.deleted "
            "LEFT JOIN records AS c FINAL ON c.id = r.target_id "
            "WHERE t.collection = 'tickets' AND NOT t.deleted ORDER BY t.id LIMIT 2",
            [["t1", "pro"], ["t2", "pro"]],
            id="joins",
        ),
        pytest.param(
            "SELECT count() FROM numbers(1000) WHERE number % 2 = 0", [[500]], id="numbers-under-cap"
        ),
        pytest.param(
            "SELECT * FROM (SELECT data.status.:String AS s, count() AS n FROM records FINAL "
            "WHERE collection = 'tickets' GROUP BY s) WHERE n > 1 ORDER BY s",
            [["closed", 2], ["open", 3]],
            id="subquery-in-from",
        ),
        pytest.param(
            f"SELECT arrayMap(x -> upper(x), groupArray(id)) FROM (SELECT id {LIVE_TICKETS} ORDER BY id LIMIT 2)",
            [[["T1", "T2"]]],
            id="lambda",
        ),
        pytest.param(
            "SELECT id FROM records FINAL WHERE collection = 'tickets' "
            "AND EXISTS (SELECT 1 FROM relationships WHERE rel_type = 'submitted_by') ORDER BY id LIMIT 1",
            [["t1"]],
            id="exists",
        ),
        pytest.param(
            "SELECT count() FROM records -- a comment; DROP TABLE records\nWHERE collection = 'customers'",
            [[3]],
            id="comment-is-not-a-statement",
        ),
    ],
)
def test_legitimate_sql(engine: ChdbEngine, query: str, expected: list[list[Any]]) -> None:
    assert run(engine, query)["data"] == expected


def test_result_shape_and_types(engine: ChdbEngine) -> None:
    result = run(
        engine,
        "SELECT toUInt64(18446744073709551615) AS u, toDecimal64(12.5, 2) AS dec, "
        "toDateTime64('2024-01-02 03:04:05.678', 3, 'UTC') AS ts, toDateTime('2024-01-02 03:04:05', 'UTC') AS dt, "
        "toDate('2024-01-02') AS d, map('a', 1) AS m, ['x', NULL]::Array(Nullable(String)) AS arr, "
        "toInt128('-170141183460469231731687303715884105728') AS wide, nan AS f, "
        "CAST((1, 'x'), 'Tuple(a UInt8, b String)') AS tup, toUUID('a75995e6-9a4c-4d90-b55d-723e2eace78d') AS id",
    )
    assert result["meta"][0] == {"name": "u", "type": "UInt64"}
    assert result["meta"][2] == {"name": "ts", "type": "DateTime64(3, 'UTC')"}
    assert result["data"] == [
        [
            18446744073709551615,
            "12.5",
            "2024-01-02T03:04:05.678Z",
            "2024-01-02T03:04:05Z",
            "2024-01-02",
            {"a": 1},
            ["x", None],
            "-170141183460469231731687303715884105728",
            None,
            {"a": 1, "b": "x"},
            "a75995e6-9a4c-4d90-b55d-723e2eace78d",
        ]
    ]
    assert result["rows"] == 1 and result["truncated"] is False
    assert set(result["statistics"]) == {"elapsed_ms", "rows_read", "bytes_read"}
    orjson.dumps(result)  # everything is JSON-able


def test_statistics_report_rows_read(engine: ChdbEngine) -> None:
    result = run(engine, "SELECT count() FROM operations_log WHERE actor != ''")
    assert result["data"] == [[3000]]
    assert result["statistics"]["rows_read"] == 3000
    assert result["statistics"]["bytes_read"] > 0


# ------------------------------------------------------------------------------------------- parameters


def test_parameters_are_bound_not_interpolated(engine: ChdbEngine) -> None:
    tricky = "x' OR 1=1 -- \\ \n\t\r {workspace_id:String} ü"
    result = run(
        engine,
        "SELECT {s:String} AS s, {n:UInt32} + 1, {ids:Array(String)}, {z:Nullable(String)}",
        {"s": tricky, "n": 41, "ids": ["t1", "it's"], "z": None},
    )
    assert result["data"] == [[tricky, 42, ["t1", "it's"], None]]


def test_parameters_filter(engine: ChdbEngine) -> None:
    query = f"SELECT count() {LIVE_TICKETS} AND data.priority.:String = {{p:String}} AND id IN {{ids:Array(String)}}"
    assert run(engine, query, {"p": "urgent", "ids": ["t1", "t3", "t4"]})["data"] == [[2]]


def test_workspace_id_is_always_the_callers(engine: ChdbEngine) -> None:
    query = "SELECT {workspace_id:String}"
    assert run(engine, query)["data"] == [["a"]]
    assert run(engine, query, {"workspace_id": "a"})["data"] == [["a"]]


def test_request_tag_cannot_break_out_of_its_comment(engine: ChdbEngine) -> None:
    database, workspace_id = WORKSPACE_A
    result = run_sql(
        engine,
        database,
        workspace_id,
        "SELECT 1",
        {},
        Limits(),
        ALLOWED_TABLES,
        request_id="x */ DROP TABLE records /*",
    )
    assert result["data"] == [[1]]


def test_missing_parameter_is_a_query_error(engine: ChdbEngine) -> None:
    with pytest.raises(QueryError, match=r"\{p:String\} has no value"):
        run(engine, "SELECT {p:String}")


def test_render_param_escapes_for_the_escaped_format() -> None:
    assert render_param("a\\b\nc\td\re") == "a\\\\b\\nc\\td\\re"
    assert render_param(None) == "\\N"
    assert render_param(True) == "true"
    assert render_param(["it's", 1, None]) == "['it\\'s', 1, NULL]"
    assert render_param({"k": [1]}) == "{'k': [1]}"


# ---------------------------------------------------------------------------------------- limits, rows


def test_row_cap_truncates_honestly(engine: ChdbEngine) -> None:
    limits = Limits(max_result_rows=10)
    over = run(engine, "SELECT number FROM numbers(100)", limits=limits)
    assert over["rows"] == 10 and over["truncated"] is True and over["data"][-1] == [9]
    exact = run(engine, "SELECT number FROM numbers(10)", limits=limits)
    assert exact["rows"] == 10 and exact["truncated"] is False
    under = run(engine, "SELECT id FROM records FINAL WHERE collection = 'customers'", limits=limits)
    assert under["truncated"] is False


def test_row_cap_does_not_cut_subqueries(engine: ChdbEngine) -> None:
    limits = Limits(max_result_rows=5)
    result = run(
        engine,
        "SELECT count() FROM operations_log WHERE seq IN (SELECT seq FROM operations_log)",
        limits=limits,
    )
    assert result["data"] == [[3000]]


def test_cross_join_is_stopped_by_the_time_limit(engine: ChdbEngine) -> None:
    query = (
        "SELECT sum(cityHash64(a.seq, b.seq, c.seq)) FROM operations_log AS a, operations_log AS b, "
        "operations_log AS c"
    )
    with pytest.raises(QueryTimeout, match="max_execution_time") as caught:
        run(engine, query, limits=Limits(max_execution_time=1))
    assert caught.value.code == "query_timeout"
    assert run(engine, "SELECT count() FROM records")["rows"] == 1


def test_memory_limit_is_enforced(engine: ChdbEngine) -> None:
    with pytest.raises(QueryRejected, match="max_memory_usage"):
        run(
            engine,
            "SELECT length(groupArray(number)) FROM numbers(1000000)",
            limits=Limits(max_memory_usage=4 * 1024**2),
        )


def test_rows_to_read_limit_is_enforced(engine: ChdbEngine) -> None:
    with pytest.raises(QueryRejected, match="max_rows_to_read"):
        run(
            engine,
            "SELECT count() FROM operations_log WHERE actor != ''",
            limits=Limits(max_rows_to_read=100),
        )


def test_concurrent_queries(engine: ChdbEngine) -> None:
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                results.append(run(engine, (SEED_QUERIES / "agent_workload.sql").read_text())["data"])
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [[["alice", 2, 1], ["bob", 1, 1]]] * 20


# ------------------------------------------------------------------------------------ engine guarantees


def test_readonly_connection_carries_readonly_and_limits(engine: ChdbEngine) -> None:
    limits = Limits(max_execution_time=3, max_memory_usage=123456789, max_result_rows=7, max_rows_to_read=999)
    conn_str = engine.readonly_connection_string(limits, "sandbox_a")
    assert "readonly=1" in conn_str and "mode=ro" not in conn_str
    # `limit` (cap + 1) is enforced too but getSetting() reports it as 0: test_row_cap_* pin its effect.
    settings = [
        "readonly",
        "max_execution_time",
        "max_memory_usage",
        "max_result_rows",
        "result_overflow_mode",
        "max_rows_to_read",
        "timeout_before_checking_execution_speed",
        "session_timezone",
    ]
    query = "SELECT " + ", ".join(f"getSetting('{s}')" for s in settings) + ", currentDatabase()"
    row = engine.query_readonly(query, {}, limits, database="sandbox_a").rows[0]
    assert row == [1, 3, 123456789, 8, "throw", 999, 0, "UTC", "sandbox_a"]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO sandbox_a.records (id) VALUES ('x')",
        "CREATE TABLE sandbox_a.evil (a UInt8) ENGINE = Memory",
        "SET max_execution_time = 1000",
        "SELECT 1 SETTINGS max_execution_time = 1000",
        "SELECT 1 SETTINGS readonly = 0",
    ],
)
def test_readonly_connection_refuses_writes_and_setting_changes(engine: ChdbEngine, statement: str) -> None:
    """Defence in depth: even text that bypassed the guard cannot write or lift its limits."""
    with pytest.raises(QueryRejected, match="read-only"):
        engine.query_readonly(statement, {}, Limits(), database="sandbox_a")


def test_second_data_path_is_refused(engine: ChdbEngine, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="one data path per process"):
        ChdbEngine(str(tmp_path / "other"))


def test_insert_arrow_and_replacing_versions(engine: ChdbEngine) -> None:
    engine.execute("CREATE DATABASE IF NOT EXISTS sandbox_insert")
    engine.execute(
        "CREATE TABLE IF NOT EXISTS sandbox_insert.t (id String, v UInt64, data JSON, "
        "at DateTime64(3, 'UTC')) ENGINE = ReplacingMergeTree(v) ORDER BY id"
    )
    batch = pa.table(
        {
            "id": ["a", "b"],
            "v": pa.array([1, 1], pa.uint64()),
            "data": ['{"x": 1}', '{"x": 2}'],
            "at": ["2024-01-01T00:00:00.123Z", "2024-01-01 00:00:01"],
        }
    )
    assert engine.insert_arrow("sandbox_insert", "t", batch) == 2
    assert engine.insert_arrow("sandbox_insert", "t", batch) == 2  # replayed: collapses under FINAL
    rows = engine.execute("SELECT id, data.x.:Int64, at FROM sandbox_insert.t FINAL ORDER BY id").rows
    assert rows == [["a", 1, "2024-01-01T00:00:00.123Z"], ["b", 2, "2024-01-01T00:00:01.000Z"]]
    assert engine.insert_arrow("sandbox_insert", "t", batch.slice(0, 0)) == 0


def test_engine_errors_are_clean(engine: ChdbEngine) -> None:
    with pytest.raises(EngineError) as caught:
        engine.execute("SELECT * FROM sandbox_missing.nothing")
    assert caught.value.clickhouse_name == "UNKNOWN_DATABASE"
    assert engine.path not in str(caught.value)


def test_clean_message_strips_paths_codes_and_version() -> None:
    raw = (
        "Code: 107. DB::Exception: Code: 107. DB::Exception: Cannot open /srv/data/store/x/y.bin and "
        "/etc/passwd (not http://example.com/a/b). (FILE_DOESNT_EXIST) (version 26.9.2.1). (FILE_DOESNT_EXIST)"
    )
    assert clean_message(raw, "/srv/data") == "Cannot open <path> and <path> (not http://example.com/a/b)"


# -------------------------------------------------------------------------------------------- formats


def test_csv_and_ndjson(engine: ChdbEngine) -> None:
    result = run(engine, "SELECT 'a,\"b\"' AS s, 1 AS n, NULL AS z, true AS b, map('k', [1, 2]) AS m")
    assert format_csv(result) == 's,n,z,b,m\r\n"a,""b""",1,,true,"{""k"":[1,2]}"\r\n'
    assert format_ndjson(result) == b'{"s":"a,\\"b\\"","n":1,"z":null,"b":true,"m":{"k":[1,2]}}\n'

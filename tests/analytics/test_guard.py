"""The SQL guard against a real chDB: every attack route is refused by name, and the engine keeps serving."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.analytics._chdb import ALLOWED_TABLES, WORKSPACE_A, seed_sandbox_workspaces, shared_engine

from deskbase.analytics.chdb_engine import ChdbEngine
from deskbase.analytics.engine import Limits
from deskbase.analytics.errors import QueryError, QueryRejected, QueryTimeout
from deskbase.analytics.guard import (
    DENIED_FUNCTIONS,
    NUMBERS_CAP,
    CheckedQuery,
    FunctionPolicy,
    check_query,
    function_policy,
)
from deskbase.analytics.sql import run_sql

HEALTH_QUERY = (
    "SELECT count() FROM records FINAL WHERE workspace_id = {workspace_id:String} "
    "AND collection = 'tickets' AND NOT deleted"
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> ChdbEngine:
    engine = shared_engine(tmp_path_factory)
    seed_sandbox_workspaces(engine)
    return engine


def run(
    engine: ChdbEngine, query: str, params: dict[str, Any] | None = None, limits: Limits | None = None
) -> dict[str, Any]:
    database, workspace_id = WORKSPACE_A
    return run_sql(engine, database, workspace_id, query, params or {}, limits or Limits(), ALLOWED_TABLES)


def check(engine: ChdbEngine, query: str) -> CheckedQuery:
    return check_query(engine, query, set(ALLOWED_TABLES), database="sandbox_a")


@dataclass(frozen=True)
class Attack:
    id: str
    query: str
    names: str  # the table, function or clause the refusal must name
    params: dict[str, Any] = field(default_factory=dict)
    raises: type[Exception] = QueryRejected
    limits: Limits | None = None


ATTACKS = [
    # another workspace, by every route
    Attack("qualified-table", "SELECT * FROM sandbox_b.records", "sandbox_b.records"),
    Attack("backquoted-qualified", "SELECT * FROM `sandbox_b`.`records`", "sandbox_b.records"),
    Attack(
        "join", "SELECT * FROM records AS r JOIN sandbox_b.records AS b ON r.id = b.id", "sandbox_b.records"
    ),
    Attack(
        "join-subquery",
        "SELECT * FROM records JOIN (SELECT id FROM sandbox_b.records) AS b USING id",
        "sandbox_b.records",
    ),
    Attack(
        "in-subquery",
        "SELECT id FROM records WHERE id IN (SELECT id FROM sandbox_b.records)",
        "sandbox_b.records",
    ),
    Attack("in-table", "SELECT id FROM records WHERE id IN sandbox_b.records", "sandbox_b.records"),
    Attack(
        "global-not-in-table",
        "SELECT id FROM records WHERE id GLOBAL NOT IN sandbox_b.records",
        "sandbox_b.records",
    ),
    Attack("in-function-form", "SELECT in(id, sandbox_b.records) FROM records", "sandbox_b.records"),
    Attack("in-unknown-local-table", "SELECT 1 WHERE 'x' IN secrets", "secrets"),
    Attack("scalar-subquery", "SELECT (SELECT count() FROM sandbox_b.records)", "sandbox_b.records"),
    Attack(
        "exists", "SELECT 1 FROM records WHERE EXISTS (SELECT 1 FROM sandbox_b.records)", "sandbox_b.records"
    ),
    Attack("union", "SELECT id FROM records UNION ALL SELECT id FROM sandbox_b.records", "sandbox_b.records"),
    Attack(
        "cte-shadowing-records",
        "WITH records AS (SELECT * FROM sandbox_b.records) SELECT * FROM records",
        "records",
    ),
    Attack(
        "cte-shadowing-harmless-body",
        "WITH relationships AS (SELECT 1) SELECT * FROM relationships",
        "relationships",
    ),
    Attack(
        "with-expression-subquery",
        "WITH (SELECT groupArray(id) FROM sandbox_b.records) AS ids SELECT ids",
        "sandbox_b.records",
    ),
    Attack("limit-subquery", "SELECT 1 LIMIT (SELECT count() FROM sandbox_b.records)", "sandbox_b.records"),
    Attack(
        "array-join-subquery",
        "SELECT x FROM records ARRAY JOIN (SELECT groupArray(id) FROM sandbox_b.records) AS x",
        "sandbox_b.records",
    ),
    Attack("cte-forward-reference", "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", "'b'"),
    Attack("unknown-local-table", "SELECT * FROM secrets", "secrets"),
    Attack("merge", "SELECT * FROM merge('sandbox_b', 'records')", "merge"),
    Attack("view", "SELECT * FROM view(SELECT * FROM sandbox_b.records)", "view"),
    # table functions
    *[
        Attack(f"table-function-{name}", f"SELECT * FROM {name}({args})", f"table function '{name}'")
        for name, args in [
            ("file", "'/etc/passwd', 'LineAsString'"),
            ("url", "'http://169.254.169.254/latest/meta-data', 'LineAsString'"),
            ("s3", "'https://bucket.s3.amazonaws.com/x.csv'"),
            ("remote", "'127.0.0.1', 'sandbox_b', 'records'"),
            ("remoteSecure", "'127.0.0.1', 'sandbox_b.records'"),
            ("mysql", "'h:3306', 'db', 't', 'u', 'p'"),
            ("postgresql", "'h:5432', 'db', 't', 'u', 'p'"),
            ("executable", "'sh', 'LineAsString', 'x String'"),
            ("cluster", "'default', 'sandbox_b', 'records'"),
            ("input", "'x String'"),
            ("generateRandom", "'a UInt64'"),
            ("jdbc", "'jdbc:x', 't'"),
            ("odbc", "'dsn', 't'"),
            ("hdfs", "'hdfs://h/x', 'CSV', 'a String'"),
            ("azureBlobStorage", "'conn', 'c', 'b'"),
            ("iceberg", "'http://h/x'"),
            ("deltaLake", "'http://h/x'"),
            ("sqlite", "'/tmp/x.db', 't'"),
            ("mongodb", "'h:27017', 'db', 'c', 'u', 'p', 'x String'"),
            ("redis", "'h:6379', 'k', 'k String'"),
            ("dictionary", "'d'"),
            ("format", "JSONEachRow, '{\"a\": 1}'"),
            ("values", "'a UInt8', 1, 2"),
            ("loop", "'sandbox_b', 'records'"),
            ("Python", "secret"),
            ("zeros", "10"),
        ]
    ],
    Attack("numbers-over-cap", f"SELECT count() FROM numbers({NUMBERS_CAP + 1})", "numbers"),
    Attack("numbers-non-literal", "SELECT count() FROM numbers(toUInt64(10))", "numbers"),
    # scalar functions
    *[
        Attack(f"function-{name}", f"SELECT {call}", f"function '{name}'")
        for name, call in [
            ("file", "file('/etc/passwd')"),
            ("dictGet", "dictGet('d', 'a', 1)"),
            ("dictHas", "dictHas('d', 1)"),
            ("joinGet", "joinGet('sandbox_b.j', 'v', 1)"),
            ("getSetting", "getSetting('max_execution_time')"),
            ("getServerSetting", "getServerSetting('path')"),
            ("currentDatabase", "currentDatabase()"),
            ("DATABASE", "DATABASE()"),
            ("hostName", "hostName()"),
            ("hostname", "hostname()"),
            ("FQDN", "FQDN()"),
            ("version", "version()"),
            ("currentUser", "currentUser()"),
            ("addressToLine", "addressToLine(toUInt64(1))"),
            ("demangle", "demangle('x')"),
            ("filesystemAvailable", "filesystemAvailable()"),
            ("hasColumnInTable", "hasColumnInTable('sandbox_b', 'records', 'id')"),
            ("sleep", "sleep(3)"),
            ("sleepEachRow", "sleepEachRow(1)"),
            ("SLEEP", "SLEEP(3)"),
            ("globalVariable", "globalVariable('x')"),
            ("aiGenerate", "aiGenerate('x')"),
            ("chdb", "chdb()"),
            ("queryID", "queryID()"),
            ("fileIf", "fileIf('/etc/passwd', 1)"),
            ("no_such_function", "no_such_function(1)"),
        ]
    ],
    Attack("apply-file", "SELECT * APPLY(file) FROM (SELECT '/etc/passwd' AS p)", "function 'file'"),
    # system and information schema
    Attack("system-tables", "SELECT * FROM system.tables", "system.tables"),
    Attack("system-query-log", "SELECT query FROM system.query_log", "system.query_log"),
    Attack("system-in-subquery", "SELECT 1 WHERE 1 IN (SELECT 1 FROM system.one)", "system.one"),
    Attack(
        "information-schema-upper", "SELECT * FROM INFORMATION_SCHEMA.TABLES", "INFORMATION_SCHEMA.TABLES"
    ),
    Attack(
        "information-schema-lower", "SELECT * FROM information_schema.columns", "information_schema.columns"
    ),
    # clauses
    Attack("settings-top-level", "SELECT 1 SETTINGS max_execution_time = 1000", "SETTINGS"),
    Attack("settings-union", "(SELECT 1) SETTINGS max_threads = 1", "SETTINGS"),
    Attack("settings-nested", "SELECT * FROM (SELECT 1 SETTINGS readonly = 0)", "SETTINGS"),
    Attack(
        "settings-in-cte", "WITH c AS (SELECT 1 SETTINGS database = 'sandbox_b') SELECT * FROM c", "SETTINGS"
    ),
    Attack("settings-database", "SELECT count() FROM records SETTINGS database = 'sandbox_b'", "SETTINGS"),
    Attack("format", "SELECT 1 FORMAT JSON", "FORMAT"),
    Attack("into-outfile", "SELECT 1 INTO OUTFILE '/tmp/deskbase-pwned'", "INTO OUTFILE"),
    Attack("into-outfile-append", "SELECT 1 INTO OUTFILE '/tmp/x' APPEND FORMAT CSV", "INTO OUTFILE"),
    Attack("multi-statement", "SELECT 1; SELECT 2", "multiple statements"),
    Attack("multi-statement-drop", "SELECT 1; DROP TABLE records", "multiple statements"),
    # statements other than SELECT
    *[
        Attack(f"statement-{i:02d}-{keyword.lower()}", sql, f"not {keyword}")
        for i, (keyword, sql) in enumerate(
            [
                ("USE", "USE sandbox_b"),
                ("SET", "SET max_execution_time = 1000"),
                ("KILL", "KILL QUERY WHERE 1"),
                ("SYSTEM", "SYSTEM FLUSH LOGS"),
                ("SHOW", "SHOW TABLES"),
                ("SHOW", "SHOW DATABASES"),
                ("DESCRIBE", "DESCRIBE records"),
                ("DESC", "DESC records"),
                ("EXPLAIN", "EXPLAIN SELECT 1"),
                ("INSERT", "INSERT INTO records SELECT * FROM records"),
                ("INSERT", "INSERT INTO records (id) VALUES ('x')"),
                ("CREATE", "CREATE TABLE x (a UInt8) ENGINE = Memory"),
                ("DROP", "DROP TABLE records"),
                ("OPTIMIZE", "OPTIMIZE TABLE records FINAL"),
                ("ALTER", "ALTER TABLE records DELETE WHERE 1"),
                ("TRUNCATE", "TRUNCATE TABLE records"),
                ("ATTACH", "ATTACH TABLE x"),
                ("DETACH", "DETACH TABLE records"),
                ("GRANT", "GRANT SELECT ON *.* TO default"),
                ("REVOKE", "REVOKE ALL ON *.* FROM default"),
                ("BACKUP", "BACKUP TABLE records TO File('x')"),
                ("RENAME", "RENAME TABLE records TO r2"),
                ("DELETE", "DELETE FROM records WHERE 1"),
                ("UPDATE", "UPDATE records SET id = '' WHERE 1"),
                ("CREATE", "CREATE FUNCTION evil AS x -> x"),
                ("EXISTS", "EXISTS TABLE records"),
                ("CHECK", "CHECK TABLE records"),
                ("DROP", "/* hi */ -- there\n DROP TABLE records"),
            ]
        )
    ],
    # parameters
    Attack(
        "identifier-param-from", "SELECT * FROM {t:Identifier}", "{t:Identifier}", {"t": "sandbox_b.records"}
    ),
    Attack("identifier-param-column", "SELECT {c:Identifier} FROM records", "{c:Identifier}", {"c": "id"}),
    Attack("nullable-identifier-param", "SELECT {c:Nullable(Identifier)}", "{c:Nullable(Identifier)}"),
    Attack(
        "client-workspace-id",
        "SELECT count() FROM records WHERE workspace_id = {workspace_id:String}",
        "workspace_id",
        {"workspace_id": "b"},
    ),
    # resource limits
    Attack(
        "cross-join-timeout",
        "SELECT sum(cityHash64(a.seq, b.seq, c.seq)) FROM operations_log a, operations_log b, operations_log c",
        "max_execution_time",
        raises=QueryTimeout,
        limits=Limits(max_execution_time=1),
    ),
    Attack(
        "memory-limit",
        "SELECT length(groupArray(number)) FROM numbers(1000000)",
        "max_memory_usage",
        limits=Limits(max_memory_usage=4 * 1024**2),
    ),
]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack_is_refused_and_engine_keeps_serving(engine: ChdbEngine, attack: Attack) -> None:
    with pytest.raises(attack.raises) as caught:
        run(engine, attack.query, attack.params, attack.limits)
    assert attack.names in caught.value.message
    assert caught.value.code in {"query_rejected", "query_timeout"}
    assert run(engine, HEALTH_QUERY)["data"] == [[6]]


def test_attack_suite_is_broad() -> None:
    assert len(ATTACKS) >= 45


def test_qualified_column_cannot_read_another_database(engine: ChdbEngine) -> None:
    """`db.table.column` only names tables already in FROM: the guard lets it through, ClickHouse fails it."""
    with pytest.raises(QueryError):
        run(engine, "SELECT sandbox_b.records.id FROM records")


# ------------------------------------------------------------------------------------- regeneration


def test_regenerated_sql_is_what_runs(engine: ChdbEngine) -> None:
    checked = check(engine, "select  id from records -- trailing; DROP TABLE records\n where id='t1'")
    assert checked.sql == "SELECT id FROM records WHERE id = 't1'"
    assert checked.tables == frozenset({"records"})
    assert checked.database == "sandbox_a"


def test_implicit_select_is_regenerated_as_select(engine: ChdbEngine) -> None:
    """chDB parses `WATCH x` as `SELECT WATCH AS x`; running the regenerated text keeps it a SELECT."""
    assert check(engine, "WATCH x").sql == "SELECT WATCH AS x"


def test_parameters_are_collected(engine: ChdbEngine) -> None:
    checked = check(engine, "SELECT {a:UInt8}, {workspace_id:String} FROM records LIMIT {n:UInt32}")
    assert dict(checked.parameters) == {"a": "UInt8", "workspace_id": "String", "n": "UInt32"}


def test_ctes_and_scopes(engine: ChdbEngine) -> None:
    checked = check(
        engine,
        "WITH a AS (SELECT id FROM records), b AS (SELECT * FROM a) "
        "SELECT * FROM b WHERE id IN a AND id IN (SELECT source_id FROM relationships)",
    )
    assert checked.tables == frozenset({"records", "relationships"})
    recursive = check(
        engine,
        "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
    )
    assert recursive.tables == frozenset()
    with pytest.raises(QueryRejected, match="'r'"):
        check(engine, "WITH r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT * FROM r")
    with pytest.raises(QueryRejected, match="'inner_cte'"):
        check(engine, "SELECT * FROM (WITH inner_cte AS (SELECT 1) SELECT * FROM inner_cte), inner_cte")


def test_syntax_errors_are_query_errors_without_guard_internals(engine: ChdbEngine) -> None:
    with pytest.raises(QueryError) as caught:
        check(engine, "SELEC 1")
    assert "parseQueryToJSON" not in caught.value.message
    assert caught.value.details["clickhouse_error"] == "SYNTAX_ERROR"
    with pytest.raises(QueryError, match="empty"):
        check(engine, "  \n")


def test_overlong_and_deep_queries_are_refused(engine: ChdbEngine) -> None:
    with pytest.raises(QueryRejected, match="longer than"):
        check(engine, "SELECT 1 " + " " * 100_000)
    deep = "SELECT " + "(" * 600 + "1" + ")" * 600
    with pytest.raises((QueryRejected, QueryError)):
        check(engine, deep)


# ---------------------------------------------------------------------------------- function policy


def test_policy_denies_every_named_dangerous_function(engine: ChdbEngine) -> None:
    policy = function_policy(engine)
    for name in DENIED_FUNCTIONS:
        assert policy.canonical(name) is None, name


def test_policy_allows_everyday_functions_aliases_and_combinators(engine: ChdbEngine) -> None:
    policy = function_policy(engine)
    for name in [
        "count",
        "COUNT",
        "countIf",
        "countDistinct",
        "sumArrayIf",
        "argMax",
        "quantiles",
        "toStartOfDay",
        "dateDiff",
        "DATE_DIFF",
        "now",
        "lower",
        "lcase",
        "JSONExtractString",
        "row_number",
        "lagInFrame",
        "domain",
        "in",
        "lambda",
        "exists",
        "arrayJoin",
        "uniqMerge",
        "medianIf",
        "throwIf",
        "caseWithExpression",
        "if",
        "IF",
    ]:
        assert policy.canonical(name) is not None, name
    for name in [
        "current_database",
        "SCHEMA",
        "fullHostName",
        "addressToSymbol",
        "dictGetOrNull",
        "regionToName",
        "naiveBayesClassifier",
        "__getScalar",
        "getSettingOrDefault",
        "logTrace",
        "fileMerge",
        "sleepIf",
    ]:
        assert policy.canonical(name) is None, name


def test_policy_from_catalog_resolution() -> None:
    policy = FunctionPolicy.from_catalog(
        [
            ("sum", True, True, "", "Aggregate Functions"),
            ("total", False, False, "sum", ""),
            ("file", False, False, "", "Other"),
            ("f", False, False, "file", ""),
            ("connectionId", False, True, "", "Other"),
            ("connection_id", False, True, "connectionID", ""),
            ("groupArray", True, False, "", "Aggregate Functions"),
            ("array_concat_agg", True, False, "groupArrayArray", ""),
            ("addressToLine", False, False, "", "Introspection"),
        ],
        ["If", "Array"],
    )
    assert policy.canonical("SUM") == "sum"
    assert policy.canonical("totalIf") == "sum"
    assert policy.canonical("sumArrayIf") == "sum"
    assert policy.canonical("array_concat_agg") == "groupArray"
    assert policy.canonical("f") is None
    assert policy.canonical("addressToLine") is None
    assert policy.canonical("unknownIf") is None


def test_policy_never_allows_an_alias_of_a_denied_function(engine: ChdbEngine) -> None:
    """Aliases may spell their target differently (connection_id -> connectionID); all must fail closed."""
    policy = function_policy(engine)
    rows = engine.query_readonly(
        "SELECT name, alias_to FROM system.functions WHERE alias_to != ''",
        {},
        Limits(max_result_rows=100_000),
    ).rows
    denied = {name for name in policy.base if name not in policy.allowed}
    for alias, target in rows:
        resolved = policy.canonical(alias)
        assert resolved is None or resolved in policy.allowed, alias
        if policy.folded.get(target.lower(), target) in denied:
            assert resolved is None, alias
    assert policy.canonical("connection_id") is None

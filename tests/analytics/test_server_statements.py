"""What deskbase sends a ClickHouse server, as text: the replica's DDL on one node and on a cluster, the
per-workspace user/profile/grant statements, the bulk insert, and the reading of a server's streamed output.

These machines have no ClickHouse server (docs/deploy.md lists what has not run against one), so the
statements are pinned here exactly; the engine itself runs through chDB in test_server_engine.py.
"""

from __future__ import annotations

import hashlib
import io
import re

import pytest

from deskbase.analytics.ddl import Ddl
from deskbase.analytics.engine import Limits
from deskbase.analytics.errors import PayloadTooLarge, QueryError, QueryTimeout
from deskbase.analytics.failures import sandbox_error
from deskbase.analytics.files import FILES
from deskbase.analytics.replica_tables import DDL
from deskbase.analytics.results import read_lines
from deskbase.analytics.server import input_insert, parse_server_url
from deskbase.analytics.server_access import (
    drop_workspace_access,
    profile_settings,
    user_of,
    workspace_access,
)
from deskbase.config import Settings
from deskbase.core.secrets import SecretBox
from deskbase.events.replication import DELIVERIES
from deskbase.support.replication import DERIVED

CLUSTER = Ddl("support_cluster")
REPLICATED = "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}'"


# ---------------------------------------------------------------------------------------------------- DDL


def test_single_node_ddl_is_plain() -> None:
    ddl = Ddl()
    assert ddl.create_database("ws_acme") == "CREATE DATABASE IF NOT EXISTS `ws_acme`"
    assert ddl.create_table("ws_acme", "records", DDL["records"]) == (
        f"CREATE TABLE IF NOT EXISTS `ws_acme`.`records` {DDL['records']}"
    )
    assert ddl.drop_database("ws_acme") == "DROP DATABASE IF EXISTS `ws_acme`"
    assert ddl.add_column("ws_acme", "records", "number Nullable(UInt64)") == (
        "ALTER TABLE `ws_acme`.`records` ADD COLUMN IF NOT EXISTS number Nullable(UInt64)"
    )
    assert (
        ddl.truncate("deskbase_meta", "watermark") == "TRUNCATE TABLE IF EXISTS `deskbase_meta`.`watermark`"
    )
    assert ddl.optimize("ws_acme", "records") == "OPTIMIZE TABLE `ws_acme`.`records` FINAL"
    assert ddl.delete("ws_acme", "records", "collection = {c:String}") == (
        "DELETE FROM `ws_acme`.`records` WHERE collection = {c:String}"
    )


def test_cluster_ddl_runs_on_the_cluster() -> None:
    assert (
        CLUSTER.create_database("ws_acme")
        == "CREATE DATABASE IF NOT EXISTS `ws_acme` ON CLUSTER 'support_cluster'"
    )
    assert (
        CLUSTER.drop_database("ws_acme")
        == "DROP DATABASE IF EXISTS `ws_acme` ON CLUSTER 'support_cluster' SYNC"
    )
    assert CLUSTER.add_column("ws_acme", "records", "number Nullable(UInt64)") == (
        "ALTER TABLE `ws_acme`.`records` ON CLUSTER 'support_cluster' ADD COLUMN IF NOT EXISTS number Nullable(UInt64)"
    )
    assert CLUSTER.truncate("deskbase_meta", "databases") == (
        "TRUNCATE TABLE IF EXISTS `deskbase_meta`.`databases` ON CLUSTER 'support_cluster'"
    )
    assert (
        CLUSTER.optimize("ws_acme", "records")
        == "OPTIMIZE TABLE `ws_acme`.`records` ON CLUSTER 'support_cluster' FINAL"
    )
    assert CLUSTER.delete("ws_acme", "relationships", "rel_type = {r:String}") == (
        "DELETE FROM `ws_acme`.`relationships` ON CLUSTER 'support_cluster' WHERE rel_type = {r:String}"
    )


def test_cluster_tables_are_replicated_with_the_version_column_kept() -> None:
    sql = CLUSTER.create_table("ws_acme", "records", DDL["records"])
    assert sql.startswith("CREATE TABLE IF NOT EXISTS `ws_acme`.`records` ON CLUSTER 'support_cluster' (")
    assert f"{REPLICATED}, version) ORDER BY (workspace_id, collection, id)" in sql
    assert "ENGINE = ReplacingMergeTree" not in sql
    # The replica's catalogue table has no version column: no third argument.
    meta = CLUSTER.create_table(
        "deskbase_meta", "databases", "(name String) ENGINE = ReplacingMergeTree ORDER BY name"
    )
    assert meta.endswith(f"(name String) {REPLICATED}) ORDER BY name")


@pytest.mark.parametrize(
    "name, body",
    [*DDL.items(), *((d.name, d.ddl) for d in (*DERIVED, DELIVERIES, FILES))],
)
def test_every_replica_table_replicates_on_a_cluster(name: str, body: str) -> None:
    sql = CLUSTER.create_table("ws_acme", name, body)
    assert sql.count("ReplicatedReplacingMergeTree(") == 1
    assert not re.search(r"ENGINE\s*=\s*ReplacingMergeTree", sql)


def test_a_table_that_is_not_a_replacing_merge_tree_is_refused_on_a_cluster() -> None:
    with pytest.raises(ValueError, match="exactly one ReplacingMergeTree"):
        CLUSTER.create_table("ws_acme", "t", "(a UInt8) ENGINE = MergeTree ORDER BY a")


@pytest.mark.parametrize("name", ["", "a'b", "x y", "c;DROP"])
def test_cluster_names_are_checked_not_quoted(name: str) -> None:
    with pytest.raises(ValueError, match="invalid ClickHouse cluster name"):
        Ddl(name)


# --------------------------------------------------------------------------------------- workspace access

LIMITS = Limits(max_execution_time=10.0, max_memory_usage=2 * 1024**3, max_result_rows=10_000, max_threads=2)


def test_workspace_user_profile_and_grant_single_node() -> None:
    password = "derived-secret"
    digest = hashlib.sha256(password.encode()).hexdigest()
    assert workspace_access("ws_acme", password, LIMITS, Ddl()) == [
        "CREATE SETTINGS PROFILE OR REPLACE `deskbase_ws_acme` SETTINGS "
        "max_execution_time = 10.0 MAX 10.0, max_memory_usage = 2147483648 MAX 2147483648, "
        "max_result_rows = 10001 MAX 10001, max_result_bytes = 67108864 MAX 67108864, "
        "max_rows_to_read = 200000000 MAX 200000000, max_threads = 2 MAX 2, max_block_size = 4096 MAX 4096, "
        "readonly = 2 CONST, allow_ddl = 0 CONST",
        f"CREATE USER OR REPLACE `deskbase_ws_acme` IDENTIFIED WITH sha256_hash BY '{digest}' "
        "DEFAULT DATABASE `ws_acme` SETTINGS PROFILE 'deskbase_ws_acme'",
        "REVOKE ALL ON *.* FROM `deskbase_ws_acme`",
        "GRANT SELECT ON `ws_acme`.* TO `deskbase_ws_acme`",
    ]


def test_workspace_access_on_a_cluster() -> None:
    statements = workspace_access("ws_acme", "pw", LIMITS, CLUSTER)
    assert statements[0].startswith(
        "CREATE SETTINGS PROFILE OR REPLACE `deskbase_ws_acme` ON CLUSTER 'support_cluster' "
    )
    assert statements[1].startswith("CREATE USER OR REPLACE `deskbase_ws_acme` ON CLUSTER 'support_cluster' ")
    assert statements[2] == "REVOKE ON CLUSTER 'support_cluster' ALL ON *.* FROM `deskbase_ws_acme`"
    assert statements[3] == "GRANT ON CLUSTER 'support_cluster' SELECT ON `ws_acme`.* TO `deskbase_ws_acme`"
    assert drop_workspace_access("ws_acme", CLUSTER) == [
        "DROP USER IF EXISTS `deskbase_ws_acme` ON CLUSTER 'support_cluster'",
        "DROP SETTINGS PROFILE IF EXISTS `deskbase_ws_acme` ON CLUSTER 'support_cluster'",
    ]


def test_the_password_never_appears_in_a_statement() -> None:
    password = SecretBox(lambda: b"k" * 44).derive("deskbase_ws_acme")
    text = "\n".join(workspace_access("ws_acme", password, LIMITS, CLUSTER))
    assert password not in text
    assert hashlib.sha256(password.encode()).hexdigest() in text


def test_profile_caps_are_the_limits_the_sandbox_sends() -> None:
    """The per-query settings may equal or lower the profile's maxima, never exceed them."""
    sent = LIMITS.settings()
    for name, value in profile_settings(LIMITS).items():
        if name in sent:
            assert sent[name] == value


def test_user_names_come_only_from_database_names() -> None:
    assert user_of("ws_acme_hb") == "deskbase_ws_acme_hb"
    with pytest.raises(ValueError):
        user_of("ws`; DROP USER x")


def test_derived_passwords_are_stable_per_key_and_purpose() -> None:
    box = SecretBox(lambda: b"a" * 44)
    assert box.derive("deskbase_ws_a") == SecretBox(lambda: b"a" * 44).derive("deskbase_ws_a")
    assert box.derive("deskbase_ws_a") != box.derive("deskbase_ws_b")
    assert box.derive("deskbase_ws_a") != SecretBox(lambda: b"b" * 44).derive("deskbase_ws_a")
    assert len(box.derive("deskbase_ws_a")) >= 40


# ------------------------------------------------------------------------------------------- bulk insert


def test_bulk_insert_sends_rows_as_the_body_of_input() -> None:
    head = "INSERT INTO `ws_acme`.`records` (`id`) SELECT entity_id FROM "
    assert input_insert(head, "'`entity_id` Nullable(String)'") == (
        "INSERT INTO `ws_acme`.`records` (`id`) SELECT entity_id FROM "
        "input('`entity_id` Nullable(String)') FORMAT JSONCompactEachRow"
    )


# -------------------------------------------------------------------------------------------- settings


def test_server_url_forms() -> None:
    t = parse_server_url("https://reader:p%40ss@ch.example.com")
    assert (t.interface, t.host, t.port, t.user, t.password) == (
        "https",
        "ch.example.com",
        8443,
        "reader",
        "p@ss",
    )
    t = parse_server_url("http://ch:9000", user="deskbase", password="secret")
    assert (t.port, t.user, t.password) == (9000, "deskbase", "secret")
    assert parse_server_url("http://ch").user == "default"
    assert (
        "secret"
        not in repr(parse_server_url("http://u:secret@ch"))
        + parse_server_url("http://u:secret@ch").describe()
    )
    for bad in ("ch.example.com", "tcp://ch:9000", "http://", "https://ch:notaport"):
        with pytest.raises(ValueError):
            parse_server_url(bad)


def test_settings_repr_hides_secrets() -> None:
    s = Settings(
        clickhouse_url="https://u:urlsecret@ch:8443",
        clickhouse_password="pwsecret",
        secret_key="keysecret",
        files_s3_secret_access_key="s3secret",
    )
    text = repr(s)
    for secret in ("urlsecret", "pwsecret", "keysecret", "s3secret"):
        assert secret not in text


# -------------------------------------------------------------------------------- reading server output


def _fail(message: str) -> Exception:
    return sandbox_error(message, Limits())


HEADER = b'["a","b"]\n["UInt64","String"]\n'


def test_streamed_output_is_decoded_across_chunk_boundaries() -> None:
    body = HEADER + b"".join(b'[%d,"row %d"]\n' % (i, i) for i in range(100))
    result = read_lines(io.BytesIO(body), 1 << 20, _fail, chunk_size=7)
    assert [(c.name, c.type) for c in result.columns] == [("a", "UInt64"), ("b", "String")]
    assert result.rows == [[i, f"row {i}"] for i in range(100)]


def test_empty_result_keeps_its_columns() -> None:
    assert [c.name for c in read_lines(io.BytesIO(HEADER), 1000, _fail).columns] == ["a", "b"]


def test_output_past_the_byte_cap_is_refused() -> None:
    body = HEADER + b'[1,"x"]\n' * 1000
    with pytest.raises(PayloadTooLarge):
        read_lines(io.BytesIO(body), 1000, _fail, chunk_size=256)


def test_an_exception_written_mid_stream_is_the_query_error() -> None:
    body = (
        HEADER
        + b'[1,"x"]\nCode: 159. DB::Exception: Timeout exceeded: elapsed 1.2 seconds. (TIMEOUT_EXCEEDED) (version 25.8)\n'
    )
    with pytest.raises(QueryTimeout):
        read_lines(io.BytesIO(body), 1 << 20, _fail)
    body = (
        HEADER
        + b'[1,"x"]\n{"exception": "Code: 395. DB::Exception: Value passed to \'throwIf\' function is non-zero. '
        b'(FUNCTION_THROW_IF_VALUE_IS_NON_ZERO)"}\n'
    )
    with pytest.raises(QueryError, match="throwIf"):
        read_lines(io.BytesIO(body), 1 << 20, _fail)

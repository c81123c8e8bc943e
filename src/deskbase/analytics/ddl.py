"""The replica's DDL for one node or a cluster: every statement the replicator issues to shape the replica.

On a single node (embedded chDB or one ClickHouse server) the statements are plain. With a cluster name each
statement carries ``ON CLUSTER '<name>'`` and every ReplacingMergeTree becomes a ReplicatedReplacingMergeTree
at ``/clickhouse/tables/{uuid}/{shard}`` with replica ``{replica}`` (the server's macros). The table's
``{uuid}`` is in the path because a rebuild drops and re-creates the same database and table names: a path
made of names would still be held in Keeper by the dropped table until its cleanup, and the new table would
fail with REPLICA_ALREADY_EXISTS. ``{uuid}`` is safe only under ON CLUSTER (every replica gets the same
UUID), which every statement here uses.

The cluster is expected to be one shard with N replicas: queries read local tables, so FINAL and the seed
queries see every row only when each node holds all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deskbase.analytics.replica_tables import qi

#: Where a replicated table keeps its state in (Zoo)Keeper; the macros are the server's own.
REPLICA_PATH = "/clickhouse/tables/{uuid}/{shard}"
REPLICA_NAME = "{replica}"
_CLUSTER = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
_REPLACING = re.compile(r"\bENGINE\s*=\s*ReplacingMergeTree\b(?:\s*\(([^)]*)\))?")


def check_cluster(name: str) -> str:
    """A cluster name as configured in the servers' ``remote_servers``; anything else is refused, not quoted."""
    if not _CLUSTER.match(name):
        raise ValueError(f"invalid ClickHouse cluster name {name!r} (letters, digits, '_', '.', '-')")
    return name


@dataclass(frozen=True)
class Ddl:
    """Statements shaping the replica; ``cluster`` None means one node."""

    cluster: str | None = None

    def __post_init__(self) -> None:
        if self.cluster is not None:
            check_cluster(self.cluster)

    @property
    def on_cluster(self) -> str:
        """`` ON CLUSTER '<name>'`` or nothing; placed after the object's name."""
        return f" ON CLUSTER '{self.cluster}'" if self.cluster else ""

    def table_engine(self, body: str) -> str:
        """The table's column list and engine clause, replicated on a cluster."""
        if not self.cluster:
            return body

        def replicated(match: re.Match[str]) -> str:
            args = [f"'{REPLICA_PATH}'", f"'{REPLICA_NAME}'"]
            if match.group(1) and match.group(1).strip():
                args.append(match.group(1).strip())
            return f"ENGINE = ReplicatedReplacingMergeTree({', '.join(args)})"

        replaced, count = _REPLACING.subn(replicated, body)
        if count != 1:
            raise ValueError("a replica table must use exactly one ReplacingMergeTree engine")
        return replaced

    def create_database(self, db: str) -> str:
        return f"CREATE DATABASE IF NOT EXISTS {qi(db)}{self.on_cluster}"

    def create_table(self, db: str, table: str, body: str) -> str:
        return f"CREATE TABLE IF NOT EXISTS {qi(db)}.{qi(table)}{self.on_cluster} {self.table_engine(body)}"

    def drop_database(self, db: str) -> str:
        # SYNC: a rebuild re-creates the database at once; on a cluster the old replicas must be gone first.
        sync = " SYNC" if self.cluster else ""
        return f"DROP DATABASE IF EXISTS {qi(db)}{self.on_cluster}{sync}"

    def add_column(self, db: str, table: str, column: str) -> str:
        return f"ALTER TABLE {qi(db)}.{qi(table)}{self.on_cluster} ADD COLUMN IF NOT EXISTS {column}"

    def truncate(self, db: str, table: str) -> str:
        return f"TRUNCATE TABLE IF EXISTS {qi(db)}.{qi(table)}{self.on_cluster}"

    def optimize(self, db: str, table: str) -> str:
        return f"OPTIMIZE TABLE {qi(db)}.{qi(table)}{self.on_cluster} FINAL"

    def delete(self, db: str, table: str, where: str) -> str:
        """A lightweight delete; ``where`` is the replicator's own condition with ``{name:Type}`` parameters."""
        return f"DELETE FROM {qi(db)}.{qi(table)}{self.on_cluster} WHERE {where}"

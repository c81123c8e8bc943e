"""The replica's tables: one ClickHouse database per workspace, its DDL, and the names that reach DDL.

Every table is a ReplacingMergeTree versioned by the change `seq`, so inserting the same change twice collapses
and replay after a crash is safe. The shapes are the SQL endpoint's contract (the seed queries run verbatim on
them): change them only by adding columns (`ADDED_COLUMNS`).
"""

from __future__ import annotations

import re

from deskbase.core.ids import check_slug

META_DB = "deskbase_meta"
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
TS = "DateTime64(3, 'UTC')"
NTS = f"Nullable({TS})"

DDL: dict[str, str] = {
    "records": f"""(
        workspace_id String, collection LowCardinality(String), id String, data JSON, version UInt64,
        deleted Bool, created_at {TS}, updated_at {TS}, external_id Nullable(String),
        external_source Nullable(String), number Nullable(UInt64)
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, collection, id)""",
    "relationships": f"""(
        workspace_id String, id String, rel_type LowCardinality(String), source_collection LowCardinality(String),
        source_id String, target_collection LowCardinality(String), target_id String, data JSON, version UInt64,
        deleted Bool, created_at {TS}, updated_at {TS}
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, rel_type, source_id, id)""",
    "collections": f"""(
        workspace_id String, id String, name String, description Nullable(String), icon Nullable(String),
        color Nullable(String), json_schema String, version UInt64, deleted Bool, updated_at {TS}
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, id)""",
    "relationship_types": f"""(
        workspace_id String, rel_type String, description Nullable(String), source_collections Array(String),
        target_collections Array(String), schema Nullable(String), cardinality LowCardinality(String),
        version UInt64, deleted Bool, updated_at {TS}
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (workspace_id, rel_type)""",
    "operations_log": f"""(
        seq UInt64, workspace_id String, entity LowCardinality(String), collection Nullable(String),
        entity_id String, op LowCardinality(String), actor Nullable(String), actor_name Nullable(String),
        at {TS}, data String, source Nullable(String)
    ) ENGINE = ReplacingMergeTree(seq) ORDER BY (workspace_id, seq)""",
}
TABLES = tuple(DDL)
#: (table, column definition) added to DDL after replicas existed: the replica adds them to older replicas.
ADDED_COLUMNS = (("records", "number Nullable(UInt64)"), ("operations_log", "source Nullable(String)"))


def database_of(workspace_id: str) -> str:
    """`ws_<id>` with an injective mapping of the slug alphabet onto identifier characters.

    Only a valid workspace slug is accepted (InvalidId otherwise): the name ends up in DDL.
    """
    check_slug(workspace_id, "workspace")
    return "ws_" + workspace_id.replace("_", "__").replace("-", "_h")


def qi(name: str) -> str:
    """A backtick-quoted identifier for DDL and DML; only names built here (constants or `database_of`)
    reach it, and anything but a plain identifier is refused rather than escaped."""
    if not IDENT.match(name):
        raise ValueError(f"invalid identifier {name!r}")
    return f"`{name}`"

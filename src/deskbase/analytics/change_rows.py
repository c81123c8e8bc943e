"""How change-log entries become rows of the replica's base tables, as ClickHouse expressions.

The change log's after-images (`changes.data`) reach ClickHouse as JSON text; each target table below names
the entities it takes and, per column, the expression over the raw change columns that builds it. A
change's version is its `seq`. Destructive changes (deleting a workspace, collection or relationship type)
are acted on by the replica itself before the rows after them (see `DESTRUCTIVE`).
"""

from __future__ import annotations

from dataclasses import dataclass

from deskbase.analytics import raw
from deskbase.analytics.raw import (
    Raw,
    field,
    field_bool,
    field_instant,
    field_json,
    field_object,
    field_text,
    instant,
)
from deskbase.core import tables as t

_c = t.changes.c
COLUMNS: tuple[Raw, ...] = (
    raw.integer(_c.seq),
    raw.text(_c.workspace_id),
    raw.text(_c.entity),
    raw.text(_c.collection),
    raw.text(_c.entity_id),
    raw.text(_c.op),
    raw.as_text(_c.data, default="{}"),
    raw.text(_c.actor),
    raw.text(_c.actor_name),
    raw.as_text(_c.at),
    raw.text(_c.source),
)
#: Entities whose deletion the replica acts on (drops or deletes rows) before applying later changes.
DESTRUCTIVE = frozenset({"workspace", "collection", "relationship_type"})


@dataclass(frozen=True)
class Target:
    """A replica table fed by change-log entries of `entities` (None: every entry but a workspace's deletion,
    whose database is dropped instead)."""

    table: str
    entities: tuple[str, ...] | None
    columns: dict[str, str]


TARGETS = (
    Target(
        "records",
        ("record",),
        {
            "workspace_id": "workspace_id",
            "collection": "ifNull(collection, '')",
            "id": "entity_id",
            "data": field_object("data", "data"),
            "version": "seq",
            "deleted": field_bool("data", "deleted"),
            "created_at": field_instant("data", "created_at"),
            "updated_at": field_instant("data", "updated_at"),
            "external_id": field("data", "external_id", "Nullable(String)"),
            "external_source": field("data", "external_source", "Nullable(String)"),
            "number": field("data", "number", "Nullable(UInt64)"),
        },
    ),
    Target(
        "relationships",
        ("relationship",),
        {
            "workspace_id": "workspace_id",
            "id": "entity_id",
            "rel_type": f"coalesce(nullIf({field_text('data', 'rel_type')}, ''), collection, '')",
            "source_collection": field_text("data", "source_collection"),
            "source_id": field_text("data", "source_id"),
            "target_collection": field_text("data", "target_collection"),
            "target_id": field_text("data", "target_id"),
            "data": field_object("data", "data"),
            "version": "seq",
            "deleted": field_bool("data", "deleted"),
            "created_at": field_instant("data", "created_at"),
            "updated_at": field_instant("data", "updated_at"),
        },
    ),
    Target(
        "collections",
        ("collection",),
        {
            "workspace_id": "workspace_id",
            "id": "entity_id",
            "name": field_text("data", "name"),
            "description": field("data", "description", "Nullable(String)"),
            "icon": field("data", "icon", "Nullable(String)"),
            "color": field("data", "color", "Nullable(String)"),
            "json_schema": field_json("data", "json_schema", "{}"),
            "version": "seq",
            "deleted": "op = 'delete'",
            "updated_at": instant("at"),
        },
    ),
    Target(
        "relationship_types",
        ("relationship_type",),
        {
            "workspace_id": "workspace_id",
            "rel_type": "entity_id",
            "description": field("data", "description", "Nullable(String)"),
            "source_collections": field("data", "source_collections", "Array(String)"),
            "target_collections": field("data", "target_collections", "Array(String)"),
            "schema": field_json("data", "schema", None),
            "cardinality": f"if({field_text('data', 'cardinality')} = '', 'many', {field_text('data', 'cardinality')})",
            "version": "seq",
            "deleted": "op = 'delete'",
            "updated_at": instant("at"),
        },
    ),
    Target(
        "operations_log",
        None,
        {
            "seq": "seq",
            "workspace_id": "workspace_id",
            "entity": "entity",
            "collection": "collection",
            "entity_id": "entity_id",
            "op": "op",
            "actor": "actor",
            "actor_name": "actor_name",
            "at": instant("at"),
            "data": "data",
            "source": "source",
        },
    ),
)

"""Tools generated from a workspace's collections, for `/mcp/w/{ws}`: `create_<c>`, `query_<c>`, `get_<c>`
and `update_<c>` for each collection the token may use, with the collection's JSON Schema as input schema.

They are built from the collections as stored at each listing, so a team that adds a collection or changes a
schema gets its tools on the next `tools/list`, without a restart. Each runs the record route's checks and
the core's validation against the collection's current schema (a stale client schema cannot slip through).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from pydantic import BaseModel, ConfigDict, Field

from deskbase.core.auth import authorize, permits
from deskbase.core.context import Actor
from deskbase.core.errors import NotFound
from deskbase.mcp import records, shapes
from deskbase.mcp.calls import Caller
from deskbase.mcp.tool import MAX_PAGE, clean_schema

VERBS = ("create", "query", "get", "update")


class PatchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(max_length=128)
    data: dict[str, Any]
    if_match: int | None = Field(None, ge=1)


class GetArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(max_length=128, description="The record's id.")
    include_deleted: bool = False


class QueryArgs(records.QueryRecords):
    """query_records' arguments without the workspace and collection (the endpoint and the tool name them)."""


QUERY_SCHEMA = clean_schema(records.QueryRecords.model_json_schema(), drop=("workspace", "collection"))
GET_SCHEMA = clean_schema(GetArgs.model_json_schema())


def _hoisted(schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The schema without its `$defs` (to nest it under a property) and the `$defs` to keep at the top."""
    inner = {k: v for k, v in schema.items() if k not in ("$defs", "$schema", "$id")}
    return inner, dict(schema.get("$defs") or {})


def _patch_schema(schema: dict[str, Any]) -> dict[str, Any]:
    inner, defs = _hoisted(schema)
    inner = {k: v for k, v in inner.items() if k != "required"}  # a merge patch names only what changes
    out: dict[str, Any] = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "The record's id."},
            "data": {**inner, "description": "A JSON merge patch: the fields to change (null removes one)."},
            "if_match": {
                "type": "integer",
                "minimum": 1,
                "description": "The version you read: refused with version_mismatch if it changed since.",
            },
        },
        "required": ["id", "data"],
        "additionalProperties": False,
    }
    if defs:
        out["$defs"] = defs
    return out


@dataclass(frozen=True)
class Generated:
    name: str
    verb: str
    collection: str
    title: str
    description: str
    input_schema: dict[str, Any]
    run: Callable[[Caller, dict[str, Any]], dict[str, Any]]

    def usable(self, actor: Actor, workspace_id: str) -> bool:
        perm = "read:records" if self.verb in ("query", "get") else "write:records"
        return permits(actor, perm, workspace_id, self.collection)

    def listing(self, workspace_required: bool) -> types.Tool:
        read_only = self.verb in ("query", "get")
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input_schema,
            annotations=types.ToolAnnotations(
                title=self.title,
                read_only_hint=read_only,
                destructive_hint=False if not read_only else None,
                idempotent_hint=(self.verb == "update") if not read_only else None,
                open_world_hint=False,
            ),
        )

    def invoke(self, caller: Any, arguments: dict[str, Any]) -> dict[str, Any]:
        return self.run(caller, arguments)


def _create(coll: str) -> Callable[[Caller, dict[str, Any]], dict[str, Any]]:
    def run(caller: Caller, arguments: dict[str, Any]) -> dict[str, Any]:
        ws = caller.workspace(None)
        authorize(caller.actor, "write:records", ws, coll)
        out, _ = caller.core.records.create(ws, coll, {"data": arguments}, caller.actor)
        return {"record": shapes.record(out)}

    return run


def _query(coll: str) -> Callable[[Caller, dict[str, Any]], dict[str, Any]]:
    def run(caller: Caller, arguments: dict[str, Any]) -> dict[str, Any]:
        args = QueryArgs.model_validate({**arguments, "collection": coll})
        return records.query_records(caller, args)

    return run


def _get(coll: str) -> Callable[[Caller, dict[str, Any]], dict[str, Any]]:
    def run(caller: Caller, arguments: dict[str, Any]) -> dict[str, Any]:
        args = GetArgs.model_validate(arguments)
        return records.get_record(caller, records.GetRecord(collection=coll, **args.model_dump()))

    return run


def _update(coll: str) -> Callable[[Caller, dict[str, Any]], dict[str, Any]]:
    def run(caller: Caller, arguments: dict[str, Any]) -> dict[str, Any]:
        args = PatchArgs.model_validate(arguments)
        ws = caller.workspace(None)
        authorize(caller.actor, "write:records", ws, coll)
        out = caller.core.records.patch(ws, coll, args.id, args.data, caller.actor, args.if_match)
        return {"record": shapes.record(out)}

    return run


def tools_of(collection: dict[str, Any]) -> list[Generated]:
    """The four tools of one collection (as `core.collections.list` returns it)."""
    coll = collection["id"]
    name = collection.get("name") or coll
    about = f"{name}: {collection['description']}" if collection.get("description") else name
    schema = collection.get("json_schema") or {"type": "object"}
    fields = ", ".join(sorted((schema.get("properties") or {}).keys())) or "any"
    create_schema = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
    return [
        Generated(
            f"create_{coll}",
            "create",
            coll,
            f"Create a {name} record",
            f"Create a record in {about}. The arguments are the record's fields (its JSON Schema). "
            "Returns the record with its id and version.",
            create_schema,
            _create(coll),
        ),
        Generated(
            f"query_{coll}",
            "query",
            coll,
            f"Query {name}",
            f"One page of {about} matching a filter on data.<field> ({fields}) or id, created_at, "
            f"updated_at; next_cursor reads on. At most {MAX_PAGE} per page.",
            QUERY_SCHEMA,
            _query(coll),
        ),
        Generated(
            f"get_{coll}",
            "get",
            coll,
            f"Read a {name} record",
            f"One record of {about} by id.",
            GET_SCHEMA,
            _get(coll),
        ),
        Generated(
            f"update_{coll}",
            "update",
            coll,
            f"Update a {name} record",
            f"Change fields of a record of {about} with a JSON merge patch in `data`; pass if_match with the "
            "version you read. Returns the updated record.",
            _patch_schema(schema),
            _update(coll),
        ),
    ]


def generated(caller: Caller, workspace_id: str) -> list[Generated]:
    """Every generated tool of the workspace the caller may use, from its collections as stored now."""
    out: list[Generated] = []
    for collection in caller.core.collections.list(workspace_id):
        out += [t for t in tools_of(collection) if t.usable(caller.actor, workspace_id)]
    return out


def find(caller: Caller, workspace_id: str, name: str) -> Generated:
    """The generated tool called `name` (whether the caller may use it is the tool's own check)."""
    verb, _, coll = name.partition("_")
    if verb in VERBS and coll:
        try:
            collection = caller.core.collections.get(workspace_id, coll)
        except NotFound:
            pass
        else:
            return next(t for t in tools_of(collection) if t.verb == verb)
    raise NotFound(f"unknown tool {name!r}", {"tool": name})

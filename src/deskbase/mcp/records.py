"""Collection and record tools: what `…/collections` and `…/records/{collection}` serve, with their checks."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from deskbase.api.schemas import RecordCreate
from deskbase.core.auth import authorize, collections_for
from deskbase.mcp import shapes
from deskbase.mcp.calls import Caller
from deskbase.mcp.tool import FILTER_HELP, MAX_PAGE, Args, Need, SortKey, Tool, derive

COLLECTION_HELP = "Collection id (list_collections names them), e.g. tickets, customers, responses."


class ListCollections(Args):
    pass


def list_collections(caller: Caller, args: ListCollections) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize(caller.actor, "read:collections", ws)
    visible = collections_for(caller.actor, "read:collections", ws)
    out = []
    for c in caller.core.collections.list(ws):
        if visible is not None and c["id"] not in visible:
            continue
        props = (c.get("json_schema") or {}).get("properties") or {}
        out.append(
            {
                "id": c["id"],
                "name": c.get("name"),
                "description": c.get("description"),
                "fields": sorted(props),
                "version": c.get("version"),
            }
        )
    return {"workspace": ws, "collections": out}


class DescribeCollection(Args):
    collection: str = Field(max_length=63, description=COLLECTION_HELP)


def describe_collection(caller: Caller, args: DescribeCollection) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize(caller.actor, "read:collections", ws, args.collection)
    c = caller.core.collections.get(ws, args.collection)
    keep = ("id", "name", "description", "json_schema", "version", "updated_at")
    return {k: c.get(k) for k in keep}


class QueryRecords(Args):
    collection: str = Field(max_length=63, description=COLLECTION_HELP)
    filter: dict[str, Any] | None = Field(None, description=FILTER_HELP)
    sort: list[SortKey] | None = Field(None, max_length=4, description="Sort keys, first wins. Default: id.")
    limit: int = Field(20, ge=1, le=MAX_PAGE, description=f"Records per page (1-{MAX_PAGE}).")
    cursor: str | None = Field(None, description="next_cursor of the previous page, to read on.")
    include_deleted: bool = False


def query_records(caller: Caller, args: QueryRecords) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize(caller.actor, "read:records", ws, args.collection)
    sort = [k.model_dump() for k in args.sort] if args.sort else None
    page = caller.core.records.query(
        ws, args.collection, args.filter, sort, args.limit, args.cursor, args.include_deleted
    )
    return {"records": [shapes.record(r) for r in page["data"]], "next_cursor": page["next_cursor"]}


class GetRecord(Args):
    collection: str = Field(max_length=63, description=COLLECTION_HELP)
    id: str = Field(max_length=128, description="The record's id.")
    include_deleted: bool = False


def get_record(caller: Caller, args: GetRecord) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize(caller.actor, "read:records", ws, args.collection)
    core = caller.core
    out = core.hooks.enrich(ws, core.records.get(ws, args.collection, args.id, args.include_deleted))
    extra: dict[str, Any] = {k: out[k] for k in ("sla", "metrics") if k in out}
    return {"record": shapes.record(out), **extra}


UpsertRecord = derive(
    "UpsertRecord",
    RecordCreate,
    exclude=("at", "created_at", "number"),
    collection=(str, Field(max_length=63, description=COLLECTION_HELP)),
)


def upsert_record(caller: Caller, args: Any) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize(caller.actor, "write:records", ws, args.collection)
    body = args.model_dump(include={"data", "id", "external_id", "external_source"})
    out, created = caller.core.records.create(ws, args.collection, body, caller.actor)
    return {"record": shapes.record(out), "created": created}


TOOLS = (
    Tool(
        "list_collections",
        "List collections",
        "The workspace's collections this token may read: id, name, description, field names, version. "
        "describe_collection gives one's full JSON Schema.",
        ListCollections,
        list_collections,
        (Need("read:collections"),),
        read_only=True,
    ),
    Tool(
        "describe_collection",
        "Describe a collection",
        "A collection's JSON Schema: its fields, types, allowed values (enum) and required fields. Read it "
        "before writing records of the collection.",
        DescribeCollection,
        describe_collection,
        (Need("read:collections"),),
        read_only=True,
    ),
    Tool(
        "query_records",
        "Query records",
        "One page of a collection's records matching a filter (the filter language), sorted; next_cursor "
        f"reads on. At most {MAX_PAGE} per page. Records carry id, version, data and times.",
        QueryRecords,
        query_records,
        (Need("read:records"),),
        read_only=True,
    ),
    Tool(
        "get_record",
        "Read a record",
        "One record of a collection by id (a ticket also carries its SLA clocks and metrics).",
        GetRecord,
        get_record,
        (Need("read:records"),),
        read_only=True,
    ),
    Tool(
        "upsert_record",
        "Create or replace a record",
        "Create a record of a collection, or replace the one its id (or external_source + external_id) names. "
        "`data` must match the collection's schema (describe_collection). Returns the record and whether it "
        "was created.",
        UpsertRecord,
        upsert_record,
        (Need("write:records"),),
        read_only=False,
        idempotent=True,
    ),
)

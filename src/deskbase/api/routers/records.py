"""Records of a collection: create/upsert, query, read, replace, merge-patch, delete, history, links.

Mounted at `/records/…` and, hidden from the schema, at `/documents/…` (the seed platform's word).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from deskbase.api import body as body_rules
from deskbase.api.deps import (
    ActorDep,
    After,
    CoreDep,
    OptionalQueryLimit,
    PageLimit,
    QueryLimit,
    authorize,
    if_match,
    requires,
    when,
)
from deskbase.api.replies import json_reply, record_reply
from deskbase.api.schemas import RecordCreate, RecordPatch, RecordReplace
from deskbase.core.auth import audit_view
from deskbase.core.errors import InvalidFilter, InvalidJson, ValidationFailed
from deskbase.core.scope import ReadScope
from deskbase.support import includes

ListInclude = Annotated[
    str | None,
    Query(
        description="Tickets only: related data for the whole page, comma-separated "
        f"({', '.join(includes.LIST_INCLUDES)}), returned in `included` keyed by ticket id. Each include "
        "needs what its own route needs (403/404 as that route); an unknown one is a 400.",
    ),
]
RecordInclude = Annotated[
    str | None,
    Query(
        description="Tickets only: related data in the same answer, comma-separated "
        f"({', '.join(includes.RECORD_INCLUDES)}), returned in `included` keyed by the ticket's id. Each "
        "include needs what its own route needs (403/404 as that route); an unknown one is a 400.",
    ),
]


def _json_param(raw: str | None, name: str) -> Any:
    """A JSON query parameter follows the body rules (it reaches the store as well); breaking them is a 400."""
    if raw is None or raw == "":
        return None
    try:
        return body_rules.parse(raw, name)
    except InvalidJson as exc:
        raise InvalidFilter(exc.message, {name: raw}) from exc
    except ValidationFailed as exc:
        raise InvalidFilter(f"{name}: {exc.message}", {"parameter": name, **exc.details}) from exc


def build(word: str, include_in_schema: bool = True) -> APIRouter:
    router = APIRouter(
        prefix=f"/v1/workspaces/{{ws}}/{word}/{{collection}}",
        tags=["records"],
        include_in_schema=include_in_schema,
    )

    @router.post(
        "",
        status_code=201,
        response_model=dict[str, Any],
        responses={200: {"description": "Replaced the record its `id` or external id names"}},
        openapi_extra=requires("write:records"),
    )
    def create_record(
        ws: str, collection: str, body: RecordCreate, core: CoreDep, actor: ActorDep
    ) -> Response:
        """Create a record (201), or replace the one its `id` or external id names (200)."""
        authorize(actor, "write:records", ws, collection)
        out, created = core.records.create(
            ws,
            collection,
            body.model_dump(exclude={"at", "created_at"}),
            actor,
            at=when(body.at),
            created_at=when(body.created_at, "created_at"),
        )
        return record_reply(out, 201 if created else 200)

    @router.get("", openapi_extra=requires("read:records"))
    def query_records(
        ws: str,
        collection: str,
        core: CoreDep,
        actor: ActorDep,
        filter: str | None = None,
        sort: str | None = None,
        limit: OptionalQueryLimit = None,
        cursor: str | None = None,
        include_deleted: bool = False,
        include: ListInclude = None,
    ) -> dict[str, Any]:
        """One page of records. `filter` and `sort` are JSON (see the filter DSL); `cursor` resumes.
        On tickets, `include` sideloads each ticket's customer and SLA summary (one query per include)."""
        authorize(actor, "read:records", ws, collection)
        names = includes.parse(include, collection, includes.LIST_INCLUDES)
        scope = ReadScope(actor, ws)
        includes.authorize_includes(scope, names)
        page = core.records.query(
            ws,
            collection,
            _json_param(filter, "filter"),
            _json_param(sort, "sort"),
            limit,
            cursor,
            include_deleted,
        )
        if names:
            page = {**page, "included": includes.load(core, scope, [r["id"] for r in page["data"]], names)}
        return page

    @router.get("/{rid}", response_model=dict[str, Any], openapi_extra=requires("read:records"))
    def get_record(
        ws: str,
        collection: str,
        rid: str,
        core: CoreDep,
        actor: ActorDep,
        include_deleted: bool = False,
        include: RecordInclude = None,
    ) -> Response:
        """One record (a ticket with its SLA clocks and metrics); on a ticket, `include` sideloads its
        customer, SLA summary, conversation and related tickets in the same answer."""
        authorize(actor, "read:records", ws, collection)
        names = includes.parse(include, collection, includes.RECORD_INCLUDES)
        scope = ReadScope(actor, ws)
        includes.authorize_includes(scope, names)
        record = core.hooks.enrich(ws, core.records.get(ws, collection, rid, include_deleted))
        if names:
            record = {**record, "included": includes.load(core, scope, [record["id"]], names)}
        return record_reply(record)

    @router.put("/{rid}", response_model=dict[str, Any], openapi_extra=requires("write:records"))
    def replace_record(
        ws: str,
        collection: str,
        rid: str,
        body: RecordReplace,
        core: CoreDep,
        actor: ActorDep,
        if_match_header: Annotated[str | None, Header(alias="If-Match")] = None,
    ) -> Response:
        authorize(actor, "write:records", ws, collection)
        out = core.records.replace(
            ws, collection, rid, body.data, actor, if_match(if_match_header), when(body.at)
        )
        return record_reply(out)

    @router.patch("/{rid}", response_model=dict[str, Any], openapi_extra=requires("write:records"))
    def patch_record(
        ws: str,
        collection: str,
        rid: str,
        body: RecordPatch,
        core: CoreDep,
        actor: ActorDep,
        if_match_header: Annotated[str | None, Header(alias="If-Match")] = None,
    ) -> Response:
        """Apply an RFC 7396 merge patch to `data`; the result must still match the schema."""
        authorize(actor, "write:records", ws, collection)
        out = core.records.patch(
            ws, collection, rid, body.data, actor, if_match(if_match_header), when(body.at)
        )
        return record_reply(out)

    @router.delete("/{rid}", response_model=dict[str, Any], openapi_extra=requires("write:records"))
    def delete_record(
        ws: str,
        collection: str,
        rid: str,
        core: CoreDep,
        actor: ActorDep,
        at: str | None = None,
        if_match_header: Annotated[str | None, Header(alias="If-Match")] = None,
    ) -> Response:
        """Soft delete (a new version with deleted=true); the record's relationships go with it."""
        authorize(actor, "write:records", ws, collection)
        return json_reply(
            core.records.delete(ws, collection, rid, actor, if_match(if_match_header), when(at))
        )

    @router.get("/{rid}/history", openapi_extra=requires("read:records"))
    def record_history(
        ws: str,
        collection: str,
        rid: str,
        core: CoreDep,
        actor: ActorDep,
        after: After = 0,
        limit: PageLimit = 100,
    ) -> dict[str, Any]:
        """Every version of the record with operation and time; who made each change (token id and name)
        is shown to `read:audit` holders, `null` to everyone else."""
        authorize(actor, "read:records", ws, collection)
        entries = core.records.history(ws, collection, rid, after, limit)
        return {"data": audit_view(actor, entries)}

    @router.get("/{rid}/relationships", tags=["relationships"], openapi_extra=requires("read:relationships"))
    def record_relationships(
        ws: str,
        collection: str,
        rid: str,
        core: CoreDep,
        actor: ActorDep,
        type: str | None = None,
        direction: str = "outgoing",
        limit: QueryLimit = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Links of the record; a link whose other end this token cannot read relationships of is left out."""
        authorize(actor, "read:relationships", ws, collection)
        return core.relationships.of_record(ws, collection, rid, type, direction, limit, cursor, actor=actor)

    return router


router = build("records")
documents_router = build("documents", include_in_schema=False)
